"""The embedded OpenAI-compatible server of a packaged model, on 127.0.0.1: llama-cpp-python's server over the
GGUF (server.engine 'llama.cpp', the default), or vLLM over its converted Hugging Face folder ('vllm',
tools/vllm_server.py).

Commands that need an LLM start the servers of the embedded models their roles use and stop them afterwards; a
server already answering on the expected port with the expected model alias (e.g. from `iloop serve` in another
terminal) is reused, not restarted.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from settings import EMBEDDED, IloopConfig
from tools.assets import ASSETS, AssetStore
from tools.vllm_server import PORT_OFFSET

GGUF_MODELS = [name for name, a in ASSETS.items() if a.kind == "gguf"]


class ServerError(RuntimeError):
    pass


def port_for(config: IloopConfig, model: str) -> int:
    if model not in GGUF_MODELS:
        raise ServerError(f"embedded model {model!r} is not a packaged GGUF; choose from {', '.join(GGUF_MODELS)}")
    offset = PORT_OFFSET if config.server.engine == "vllm" else 0
    return config.server.port_base + offset + GGUF_MODELS.index(model)


def serial(config: IloopConfig, role: str) -> bool:
    """Whether a role's requests must go one at a time: llama.cpp's server answers one request at a time, and two
    in flight only evict each other's prompt cache. vLLM and remote servers batch concurrent requests."""
    return config.role(role).base_url == EMBEDDED and config.server.engine == "llama.cpp"


def endpoint(config: IloopConfig, role: str) -> tuple[str, str]:
    """(base_url, model name) a role talks to."""
    rs = config.role(role)
    if rs.base_url != EMBEDDED:
        return rs.base_url, rs.model
    return f"http://{config.server.host}:{port_for(config, rs.model)}/v1", rs.model


def embedded_models(config: IloopConfig, roles: list[str]) -> list[str]:
    return sorted({config.role(r).model for r in roles if config.role(r).base_url == EMBEDDED})


def _port_open(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _answers(url: str, alias: str, timeout: float = 2.0) -> bool:
    try:
        r = httpx.get(f"{url}/models", timeout=timeout)
        return r.status_code == 200 and any(m.get("id") == alias for m in r.json().get("data", []))
    except (httpx.HTTPError, ValueError):
        return False


def _llama_cpp_command(config: IloopConfig, model: str, port: int) -> tuple[list[str], dict[str, str] | None]:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        raise ServerError("the embedded server needs the 'embedded' extra: pip install "
                          "'instruct-loop[embedded]' (builds llama-cpp-python, about 8 minutes)") from exc
    gguf = AssetStore(config.assets_path).path(model)
    threads = config.server.n_threads or os.cpu_count() or 2
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", model,
            "--host", config.server.host, "--port", str(port), "--n_ctx", str(config.server.n_ctx),
            "--n_threads", str(threads),
            # Its default keeps logits for every prompt token (a 151k-wide row each, copied into numpy): nothing
            # here asks for logprobs, and without them a prompt reads about 1.2x faster (bench/bench_llama_logits.py).
            "--logits_all", "false"], None


def _vllm_command(config: IloopConfig, model: str, port: int) -> tuple[list[str], dict[str, str] | None]:
    from tools.hf_convert import ensure_hf_folder
    from tools.vllm_server import VLLMMissing, vllm_command, vllm_dtype, vllm_env, vllm_python

    try:
        python = vllm_python(config)
    except VLLMMissing as exc:
        raise ServerError(str(exc)) from exc
    folder = ensure_hf_folder(AssetStore(config.assets_path), model)
    return vllm_command(config, python, folder, model, port, vllm_dtype(config)), vllm_env(config)


def start_server(config: IloopConfig, model: str, log_dir: Path) -> subprocess.Popen | None:
    """Start one server; returns None when a matching server already answers."""
    port = port_for(config, model)
    url = f"http://{config.server.host}:{port}/v1"
    vllm = config.server.engine == "vllm"
    timeout = config.server.vllm_startup_timeout_s if vllm else config.server.startup_timeout_s
    if _answers(url, model):
        return None
    if _port_open(config.server.host, port):
        # Another process's server may be busy with a long request: wait for it rather than fight over the port.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _answers(url, model, timeout=10.0):
                return None
            time.sleep(1.0)
        raise ServerError(f"port {port} on {config.server.host} is taken by something that is not the {model} "
                          "server; set server.port_base to a free range")
    cmd, env = (_vllm_command if vllm else _llama_cpp_command)(config, model, port)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(log_dir / f"server-{model}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"embedded server for {model} exited with {proc.returncode}; "
                              f"see {log_dir / f'server-{model}.log'}")
        if _answers(url, model):
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise ServerError(f"embedded server for {model} did not answer on {url} within "
                      f"{timeout:.0f}s; see {log_dir / f'server-{model}.log'}")


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


@contextmanager
def embedded_servers(config: IloopConfig, roles: list[str]) -> Iterator[list[str]]:
    """Run the embedded servers the given roles need for the duration of the block."""
    procs: list[subprocess.Popen] = []
    models = embedded_models(config, roles)
    try:
        for model in models:
            proc = start_server(config, model, config.home / "logs")
            if proc is not None:
                procs.append(proc)
        yield models
    finally:
        stop(procs)
