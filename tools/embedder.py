"""Sentence embeddings behind one interface, batched, cached in Chroma by content hash.

``embedding.model`` names a preset (tools/embedder_backends.py): ``use-multilingual-v3``, the default, is
cross-lingual (English and Chinese in one space); ``minilm-l6-v2`` is the packaged English MiniLM; a path names any
local sentence-transformers folder (e.g. BGE on disk). Nothing is ever fetched from a hub. The thresholds that read
these cosines (tag merging, leakage bands) are presets per model in settings/, calibrated in docs/taxonomy.md and
docs/leakage.md.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from settings import EmbeddingSettings
from tools.assets import AssetStore
from tools.embedder_backends import PRESETS, ModelRef, load_backend, resolve_model

__all__ = ["PRESETS", "Embedder", "TextSpace", "cached_vectors", "resolve_model", "text_id"]


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Shared by every Embedder of the process: a loaded model per (model key, device or threads), and the vectors of
# the last texts it encoded per model key (oldest out first). A process that checks the same benchmark prompts or
# turns for several homes (the test suite, a console next to a run) encodes each text once. Vectors are small
# (384-1024 floats).
_MODELS: dict[tuple[str, str], object] = {}
_VECTORS: "OrderedDict[tuple[str, str], np.ndarray]" = OrderedDict()
_VECTOR_CAP = 100_000
_LOCK = threading.Lock()


def _load_model(ref: ModelRef, settings: EmbeddingSettings):
    with _LOCK:
        key = (ref.key, f"threads={settings.threads}" if ref.backend == "use" else settings.device)
        if key not in _MODELS:
            _MODELS[key] = load_backend(ref, settings)
        return _MODELS[key]


class Embedder:
    """Batch-native: ``encode(list of texts) -> (n, d) float32 array`` of unit vectors."""

    def __init__(self, settings: EmbeddingSettings, assets: AssetStore) -> None:
        self.settings, self.assets_root = settings, Path(assets.root)  # what a worker needs to load the same model
        self.ref = resolve_model(settings, assets)
        self.name = self.ref.name
        self.model = _load_model(self.ref, settings)
        self.encoded = 0

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        texts = [t[: self.settings.max_chars] for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [(self.ref.key, text_id(t)) for t in texts]
        with _LOCK:
            known = {k: _VECTORS[k] for k in keys if k in _VECTORS}
        todo = list(dict.fromkeys(k for k in keys if k not in known))
        if todo:
            text_of = dict(zip(keys, texts))
            vecs = self.model.encode([text_of[k] for k in todo], self.settings.batch_size, progress)
            self.encoded += len(todo)
            with _LOCK:
                for k, v in zip(todo, vecs.astype(np.float32)):
                    known[k] = _VECTORS[k] = v
                while len(_VECTORS) > _VECTOR_CAP:
                    _VECTORS.popitem(last=False)
        return np.stack([known[k] for k in keys])

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


class TextSpace:
    """Cached unit vectors of short texts (tags, user turns) in one Chroma collection of one embedding model."""

    def __init__(self, embedder: Embedder, vectors, collection: str) -> None:
        self.embedder, self.vectors, self.collection = embedder, vectors, collection

    def encode(self, texts: list[str], prefix: str = "") -> np.ndarray:
        return cached_vectors(self.embedder, self.vectors, self.collection, texts, prefix)
