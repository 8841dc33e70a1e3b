"""Chroma under the home: one collection per (kind, embedding model); the project always supplies the vectors.

Collections are created with ``embedding_function=None`` and queried with ``query_embeddings``: Chroma's own
default embedder would try to download an ONNX model, which fails offline.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def collection_name(kind: str, model: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", Path(model).name if "/" in model else model).strip("-")
    return f"{kind}__{slug}"[:60]


class VectorStore:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))

    def collection(self, name: str):
        return self.client.get_or_create_collection(name=name, embedding_function=None,
                                                    metadata={"hnsw:space": "cosine"})

    def existing_ids(self, name: str, ids: Sequence[str], batch: int = 5000) -> set[str]:
        col, found = self.collection(name), set()
        for k in range(0, len(ids), batch):
            found.update(col.get(ids=list(ids[k:k + batch]), include=[])["ids"])
        return found

    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, metadatas: list[dict[str, Any]] | None = None,
               documents: list[str] | None = None, batch: int = 2000) -> None:
        col = self.collection(name)
        for k in range(0, len(ids), batch):
            col.upsert(ids=list(ids[k:k + batch]), embeddings=vectors[k:k + batch].tolist(),
                       metadatas=metadatas[k:k + batch] if metadatas else None,
                       documents=documents[k:k + batch] if documents else None)

    def get_vectors(self, name: str, ids: Sequence[str], batch: int = 5000) -> dict[str, np.ndarray]:
        col, found = self.collection(name), {}
        for k in range(0, len(ids), batch):
            out = col.get(ids=list(ids[k:k + batch]), include=["embeddings"])
            found.update({i: np.asarray(v, dtype=np.float32) for i, v in zip(out["ids"], out["embeddings"])})
        return found

    def delete(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            self.collection(name).delete(ids=list(ids))

    def count(self, name: str) -> int:
        return self.collection(name).count()

    def query(self, name: str, vectors: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
        """Nearest ids with cosine similarity (1 - Chroma's cosine distance)."""
        res = self.collection(name).query(query_embeddings=vectors.tolist(), n_results=k, include=["distances"])
        return [[(i, 1.0 - d) for i, d in zip(ids, ds)] for ids, ds in zip(res["ids"], res["distances"])]
