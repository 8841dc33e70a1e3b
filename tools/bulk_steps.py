"""The bulk steps the executors run (tools/executor.py): tagging's LLM calls, embedding, loss scoring.

Each is built from plain values (settings, paths, URLs) so it pickles to a Ray worker, and does its heavy setup
(a model load, an LLM client) in ``setup``, once per worker. What they return is what the driver stores: SQL and
Chroma writes stay on the driver, except the LLM layer's own call cache and token accounting, which a tagging
worker writes to the store it is given (the same database URL: a shared SQLite file on one machine, Postgres on a
cluster).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path
from typing import Any

import numpy as np

from settings import EmbeddingSettings, IloopConfig, ScoringSettings


def _json_key(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class EmbedStep:
    """(key, text) -> the text's unit vector (float32 array), with the configured embedder; the key names the item
    (a content hash) and must be the same for the same text."""
    settings: EmbeddingSettings
    assets_root: str
    name: str = "embed"
    uses_gpu: ClassVar[bool] = True  # Ray reserves executors.ray.gpus_per_actor for its actors
    _embedder: Any = field(default=None, repr=False, compare=False)

    def fingerprint(self) -> str:
        return f"{self.settings.model}:{self.settings.max_chars}"

    def item_key(self, item: tuple[str, str]) -> str:
        return item[0]

    def setup(self) -> None:
        if self._embedder is None:
            from tools.assets import AssetStore
            from tools.embedder import Embedder
            self._embedder = Embedder(self.settings, AssetStore(Path(self.assets_root)))

    def process(self, items: list[tuple[str, str]]) -> list[np.ndarray]:
        return list(self._embedder.encode([text for _, text in items]))

    def __getstate__(self):  # a worker loads its own model
        return {**self.__dict__, "_embedder": None}


@dataclass
class LossStep:
    """Conversations (message lists) -> LossResult of ``kind`` ('cond' or 'resp') with the scoring model."""
    folder: str
    settings: ScoringSettings
    model_name: str
    device: str = "auto"
    adapter: str | None = None
    kind: str = "cond"
    name: str = "loss"
    uses_gpu: ClassVar[bool] = True
    _scorer: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_scorer(cls, scorer, kind: str = "cond") -> "LossStep":
        # absolute: a worker on another machine or in another directory resolves nothing relative to ours
        return cls(str(Path(scorer.folder).resolve()), scorer.settings, scorer.name, scorer.device,
                   str(Path(scorer.adapter).resolve()) if scorer.adapter else None, kind, _scorer=scorer)

    def fingerprint(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def key(self) -> str:
        from tools.loss_scorer import LossScorer
        return LossScorer(Path(self.folder), self.settings, self.device,
                          Path(self.adapter) if self.adapter else None, self.model_name).key

    def item_key(self, messages: list[dict]) -> str:
        return _json_key(messages)

    def setup(self) -> None:
        if self._scorer is None:
            from tools.loss_scorer import LossScorer
            self._scorer = LossScorer(Path(self.folder), self.settings, self.device,
                                      Path(self.adapter) if self.adapter else None, self.model_name)

    def process(self, conversations: list[list[dict]]) -> list:
        return self._scorer.losses(self._scorer.encode(conversations, self.kind))

    @property
    def tokens_per_s(self) -> float:
        return self._scorer.tokens_per_s if self._scorer is not None else 0.0

    def __getstate__(self):
        return {**self.__dict__, "_scorer": None}


@dataclass
class TagStep:
    """(conversation id, messages) -> LLMResult of the tag task (value: {'en': [...], 'zh': [...], ...})."""
    config_json: str
    round_: int
    name: str = "tag"
    _llm: Any = field(default=None, repr=False, compare=False)
    _task: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def for_config(cls, cfg: IloopConfig, round_: int) -> "TagStep":
        # absolute home and assets: the worker opens the same store (<home>/iloop.sqlite unless database_url)
        cfg = cfg.model_copy(update={"home": Path(cfg.home).resolve(), "assets_dir": cfg.assets_path.resolve()})
        return cls(cfg.model_dump_json(), round_)

    @property
    def max_actors(self) -> int:
        """The embedded llama.cpp server answers one request at a time: a second actor would only evict the first
        one's prompt cache. A real server (vLLM) takes as many actors as executors.ray.actors says."""
        from tools.embedded_server import serial
        return 1 if serial(IloopConfig.model_validate_json(self.config_json), "tagger") else 0

    def fingerprint(self) -> str:
        cfg = IloopConfig.model_validate_json(self.config_json)
        role = cfg.role("tagger")
        from tools.prompts import environment
        from tools.tagging import TagTask
        prompt = environment().loader.get_source(environment(), TagTask.template)[0]
        # what changes a reply: the model and its sampling, the tagging settings (prompt cuts) and the prompt file
        # itself (an edited prompt never reuses a marker); never the API key
        return _json_key([role.base_url, role.model, role.temperature, role.max_tokens, cfg.seed,
                          cfg.tagging.model_dump(mode="json"), prompt])

    def item_key(self, item: tuple[int, list[dict]]) -> str:
        return _json_key(item[1])  # the reply depends on the text only

    def setup(self) -> None:
        if self._llm is None:
            from state.db import Store
            from tools.llm import LLM
            from tools.tagging import TagTask
            cfg = IloopConfig.model_validate_json(self.config_json)
            self._llm = LLM(cfg, Store(cfg.db_url, migrate=False), self.round_)
            self._task = TagTask(cfg.tagging)

    def process(self, items: list[tuple[int, list[dict]]]) -> list:
        return self._llm.run(self._task, [messages for _, messages in items])

    def __getstate__(self):
        return {**self.__dict__, "_llm": None, "_task": None}
