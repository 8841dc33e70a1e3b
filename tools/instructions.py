"""Every conversation's instruction (its first user turn) in Chroma, keyed by content hash so nothing is embedded
twice: what the semantic map, the leakage checks and ILA compare. The encoding is a bulk step on the configured
executor (tools/executor.py); Chroma is written on the driver, after every shard."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from settings import IloopConfig
from state import conversations
from state.db import Store
from state.vectors import VectorStore, collection_name
from tools.bulk_steps import EmbedStep
from tools.embedder import Embedder
from tools.executor import run_step


def instruction_text(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def conversation_collection(embedding_model: str) -> str:
    return collection_name("conversations", embedding_model)


def embed_conversations(store: Store, vectors: VectorStore, embedder: Embedder, collection: str, page: int = 5000,
                        progress: Callable[[int], None] | None = None, cfg: IloopConfig | None = None,
                        per_call: int = 100_000) -> int:
    """Embed the instructions not yet in ``collection``; returns how many were embedded. ``cfg`` chooses the
    executor (without it: this process). Pending instructions go to the executor ``per_call`` at a time, not a
    page at a time: each call starts Ray's actor pool and loads the embedder again."""
    step = EmbedStep(embedder.settings, str(Path(embedder.assets_root).resolve()), _embedder=embedder)
    todo: dict[str, tuple[dict, str]] = {}  # content hash -> (Chroma metadata, instruction); a hash may repeat
    done = 0

    def store_shard(items: list[tuple[str, str]], vecs: list) -> None:
        vectors.upsert(collection, [h for h, _ in items], np.stack(vecs), [todo[h][0] for h, _ in items])
        if progress:
            progress(len(items))

    def flush() -> int:
        run_step(step, [(h, text) for h, (_, text) in todo.items()], cfg, on_shard=store_shard)
        n = len(todo)
        todo.clear()
        return n

    for rows in conversations.pages(store, page):
        have = vectors.existing_ids(collection, [r.content_hash for r in rows])
        for r in rows:
            if r.content_hash not in have and r.content_hash not in todo:
                todo[r.content_hash] = ({"conversation_id": r.id, "lang": r.lang, "origin": r.origin,
                                         "source": r.source}, instruction_text(r.messages))
        if len(todo) >= per_call:
            done += flush()
    return done + (flush() if todo else 0)
