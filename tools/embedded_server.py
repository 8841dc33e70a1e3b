"""The embedded OpenAI-compatible server: llama-cpp-python's server over a packaged GGUF, on 127.0.0.1.

It stands in for vLLM on machines without a GPU. Commands that need an LLM start the servers of the embedded
models their roles use and stop them afterwards; a server already answering on the expected port with the
expected model alias (e.g. from `iloop serve` in another terminal) is reused, not restarted.
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

GGUF_MODELS = [name for name, a in ASSETS.items() if a.kind == "gguf"]


class ServerError(RuntimeError):
    pass


def port_for(config: IloopConfig, model: str) -> int:
    if model not in GGUF_MODELS:
        raise ServerError(f"embedded model {model!r} is not a packaged GGUF; choose from {', '.join(GGUF_MODELS)}")
    return config.server.port_base + GGUF_MODELS.index(model)


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


def start_server(config: IloopConfig, model: str, log_dir: Path) -> subprocess.Popen | None:
    """Start one server; returns None when a matching server already answers."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        raise ServerError("the embedded server needs the 'embedded' extra: pip install "
                          "'instruct-loop[embedded]' (builds llama-cpp-python, about 8 minutes)") from exc
    port = port_for(config, model)
    url = f"http://{config.server.host}:{port}/v1"
    if _answers(url, model):
        return None
    if _port_open(config.server.host, port):
        # Another process's server may be busy with a long request: wait for it rather than fight over the port.
        deadline = time.monotonic() + config.server.startup_timeout_s
        while time.monotonic() < deadline:
            if _answers(url, model, timeout=10.0):
                return None
            time.sleep(1.0)
        raise ServerError(f"port {port} on {config.server.host} is taken by something that is not the {model} "
                          "server; set server.port_base to a free range")
    gguf = AssetStore(config.assets_path).path(model)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(log_dir / f"server-{model}.log", "ab")
    threads = config.server.n_threads or os.cpu_count() or 2
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", model,
           "--host", config.server.host, "--port", str(port), "--n_ctx", str(config.server.n_ctx),
           "--n_threads", str(threads),
           # Its default keeps logits for every prompt token (a 151k-wide row each, copied into numpy): nothing here
           # asks for logprobs, and without them a prompt reads about 1.2x faster (bench/bench_llama_logits.py).
           "--logits_all", "false"]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + config.server.startup_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"embedded server for {model} exited with {proc.returncode}; "
                              f"see {log_dir / f'server-{model}.log'}")
        if _answers(url, model):
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise ServerError(f"embedded server for {model} did not answer on {url} within "
                      f"{config.server.startup_timeout_s:.0f}s; see {log_dir / f'server-{model}.log'}")


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
