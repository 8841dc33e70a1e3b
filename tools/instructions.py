"""Every conversation's instruction (its first user turn) in Chroma, keyed by content hash so nothing is embedded
twice: what the semantic map, the leakage checks and ILA compare."""
from __future__ import annotations

from typing import Callable

from state import conversations
from state.db import Store
from state.vectors import VectorStore, collection_name
from tools.embedder import Embedder


def instruction_text(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def conversation_collection(embedding_model: str) -> str:
    return collection_name("conversations", embedding_model)


def embed_conversations(store: Store, vectors: VectorStore, embedder: Embedder, collection: str, page: int = 5000,
                        progress: Callable[[int], None] | None = None) -> int:
    """Embed the instructions not yet in ``collection``; returns how many were embedded."""
    done = 0
    for rows in conversations.pages(store, page):
        have = vectors.existing_ids(collection, [r.content_hash for r in rows])
        todo = [r for r in rows if r.content_hash not in have]
        if todo:
            metas = [{"conversation_id": r.id, "lang": r.lang, "origin": r.origin, "source": r.source} for r in todo]
            done += embedder.encode_cached(vectors, collection, [r.content_hash for r in todo],
                                           [instruction_text(r.messages) for r in todo], metas, progress=progress)
    return done
