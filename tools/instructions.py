"""Every conversation's instruction (its first user turn) in Chroma, keyed by content hash so nothing is embedded
twice: what the semantic map, the leakage checks and ILA compare. The encoding is a bulk step on the configured
executor (tools/executor.py); Chroma is written on the driver, after every shard."""
from __future__ import annotations

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
                        progress: Callable[[int], None] | None = None, cfg: IloopConfig | None = None) -> int:
    """Embed the instructions not yet in ``collection``; returns how many were embedded. ``cfg`` chooses the
    executor (without it: this process)."""
    step = EmbedStep(embedder.settings, str(embedder.assets_root), _embedder=embedder)
    done = 0
    for rows in conversations.pages(store, page):
        have = vectors.existing_ids(collection, [r.content_hash for r in rows])
        todo = {r.content_hash: r for r in rows if r.content_hash not in have}  # a page may repeat a hash
        if not todo:
            continue

        def store_shard(items: list[tuple[str, str]], vecs: list) -> None:
            meta = [{"conversation_id": todo[h].id, "lang": todo[h].lang, "origin": todo[h].origin,
                     "source": todo[h].source} for h, _ in items]
            vectors.upsert(collection, [h for h, _ in items], np.stack(vecs), meta)
            if progress:
                progress(len(items))

        run_step(step, [(h, instruction_text(r.messages)) for h, r in todo.items()], cfg, on_shard=store_shard)
        done += len(todo)
    return done
