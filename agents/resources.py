"""Per-process resources the nodes share (store, vectors, embedder), built from the run's configuration.

Only agents (and the CLI/console above them) hold this bag; they hand tools/ the values they need.

The configuration travels in ``config["configurable"]["iloop_config"]`` as JSON (so checkpoints stay
serialisable); without it (e.g. LangGraph Studio) the usual sources are read: ILOOP_HOME, YAML, environment.
"""
from __future__ import annotations

from functools import cached_property

from langchain_core.runnables import RunnableConfig

from settings import IloopConfig, load_config
from state.db import Store
from tools.assets import AssetStore
from tools.instructions import conversation_collection

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

    @property
    def conversations(self) -> str:
        """The Chroma collection of the conversations' instruction vectors."""
        return conversation_collection(self.config.embedding.model)

    def text_space(self, kind: str):
        """Cached vectors of short texts of one kind ("tags", "turns") under the configured embedder."""
        from state.vectors import collection_name
        from tools.embedder import TextSpace
        return TextSpace(self.embedder, self.vectors, collection_name(kind, self.config.embedding.model))

    def leakage_guard(self):
        """The guard with one embedder per leakage.models entry (the pool's own where it is one of them; loaded
        models are shared process-wide, tools/embedder.py)."""
        from tools.embedder import Embedder
        from tools.leakage_guard import LeakageGuard
        emb = self.config.embedding
        embedders = {m: self.embedder if m == emb.model else Embedder(emb.model_copy(update={"model": m}), self.assets)
                     for m in self.config.leakage.models}
        return LeakageGuard(self.store, self.vectors, self.embedder, self.assets, self.config.leakage, emb.model,
                            self.conversations, self.config.home / "reports", embedders)


def iloop_config(config: RunnableConfig | None) -> IloopConfig:
    raw = ((config or {}).get("configurable") or {}).get("iloop_config")
    return IloopConfig.model_validate_json(raw) if raw else load_config()


# What a configuration differing only in steered numbers may share with one already built: the same store, assets,
# Chroma and (same embedding settings) embedder; a steered round must not open a second Chroma client or model.
_SHARED = ("store", "assets", "vectors")


def resources(config: RunnableConfig | None) -> Resources:
    cfg = iloop_config(config)
    key = cfg.model_dump_json()
    if key not in _CACHE:
        res = Resources(cfg)
        for other in _CACHE.values():
            o = other.config
            if (o.home, o.db_url, o.assets_path) == (cfg.home, cfg.db_url, cfg.assets_path):
                names = _SHARED + (("embedder",) if o.embedding == cfg.embedding else ())
                res.__dict__.update({n: other.__dict__[n] for n in names
                                     if n in other.__dict__ and n not in res.__dict__})
        _CACHE[key] = res
    return _CACHE[key]


def register(res: Resources) -> None:
    """Let a caller that already built resources (the CLI, tests) share them with the graph's nodes."""
    _CACHE[res.config.model_dump_json()] = res
