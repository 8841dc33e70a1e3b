"""Sentence embeddings (sentence-transformers), batched, cached in Chroma by content hash.

The default model is the packaged all-MiniLM-L6-v2 from the assets cache; ``embedding.model`` may name any local
sentence-transformers folder instead (e.g. BGE on disk). Nothing is ever fetched from a hub.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from graph.config import EmbeddingSettings
from tools.assets import ASSETS, AssetStore


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_model_path(settings: EmbeddingSettings, assets: AssetStore) -> Path:
    if settings.model in ASSETS:
        return assets.path(settings.model)
    path = Path(settings.model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise FileNotFoundError(f"embedding.model={settings.model!r} is neither a packaged asset "
                                f"({', '.join(a for a in ASSETS if ASSETS[a].kind == 'st-model')}) nor a local "
                                "sentence-transformers folder")
    return path


class Embedder:
    """Batch-native: ``encode(list of texts) -> (n, d) float32 array`` of unit vectors."""

    def __init__(self, settings: EmbeddingSettings, assets: AssetStore) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.settings = settings
        self.path = resolve_model_path(settings, assets)
        device = settings.device
        if device == "auto":
            import torch
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(str(self.path), device=device)
        self.name = settings.model if settings.model in ASSETS else self.path.name
        self.encoded = 0

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        texts = [t[: self.settings.max_chars] for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=self.settings.batch_size, normalize_embeddings=True,
                                 show_progress_bar=progress, convert_to_numpy=True)
        self.encoded += len(texts)
        return vecs.astype(np.float32)

    def encode_cached(self, vectors, collection: str, ids: Sequence[str], texts: Sequence[str],
                      metadatas: list[dict] | None = None, progress: Callable[[int], None] | None = None,
                      chunk: int = 2048) -> int:
        """Embed and store only the ids not yet in the collection; returns how many were embedded."""
        have = vectors.existing_ids(collection, ids)
        todo = [k for k, i in enumerate(ids) if i not in have]
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            vecs = self.encode([texts[k] for k in part])
            vectors.upsert(collection, [ids[k] for k in part], vecs,
                           [metadatas[k] for k in part] if metadatas else None)
            if progress:
                progress(len(part))
        return len(todo)


def cached_vectors(embedder: Embedder, vectors, collection: str, texts: list[str], prefix: str = "") -> np.ndarray:
    """Unit vectors for ``texts`` in order; only texts not yet in the Chroma collection are encoded."""
    ids = [text_id(prefix + t) for t in texts]
    unique = dict(zip(ids, texts))  # repeated texts ("continue", "thanks") are embedded and fetched once
    keys = list(unique)
    embedder.encode_cached(vectors, collection, keys, list(unique.values()))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(keys), 5000):
        found.update(vectors.get_vectors(collection, keys[start:start + 5000]))
    return np.stack([found[i] for i in ids]) if ids else np.zeros((0, embedder.dim), dtype=np.float32)
