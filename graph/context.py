"""Per-process resources the nodes share (store, vectors, embedder), built from the run's configuration.

The configuration travels in ``config["configurable"]["iloop_config"]`` as JSON (so checkpoints stay
serialisable); without it (e.g. LangGraph Studio) the usual sources are read: ILOOP_HOME, YAML, environment.
"""
from __future__ import annotations

from functools import cached_property

from langchain_core.runnables import RunnableConfig

from graph.config import IloopConfig, load_config
from state.db import Store
from tools.assets import AssetStore

_CACHE: dict[str, "Resources"] = {}


class Resources:
    def __init__(self, config: IloopConfig) -> None:
        self.config = config

    @cached_property
    def store(self) -> Store:
        self.config.home.mkdir(parents=True, exist_ok=True)
        return Store(self.config.db_url)

    @cached_property
    def assets(self) -> AssetStore:
        return AssetStore(self.config.assets_path)

    @cached_property
    def vectors(self):
        from state.vectors import VectorStore
        return VectorStore(self.config.home / "chroma")

    @cached_property
    def embedder(self):
        from tools.embedder import Embedder
        return Embedder(self.config.embedding, self.assets)


def iloop_config(config: RunnableConfig | None) -> IloopConfig:
    raw = ((config or {}).get("configurable") or {}).get("iloop_config")
    return IloopConfig.model_validate_json(raw) if raw else load_config()


def resources(config: RunnableConfig | None) -> Resources:
    cfg = iloop_config(config)
    key = cfg.model_dump_json()
    if key not in _CACHE:
        _CACHE[key] = Resources(cfg)
    return _CACHE[key]


def register(res: Resources) -> None:
    """Let a caller that already built resources (the CLI, tests) share them with the graph's nodes."""
    _CACHE[res.config.model_dump_json()] = res
