"""The fixed 2D semantic map as a t-SNE (openTSNE): fitted ONCE on a seeded sample, pickled in the home, and only
used to place points afterwards (``TSNEEmbedding.transform`` optimises each new point against the fixed fitted
ones; it is deterministic and one point's place does not depend on the others placed with it).

Measured on the demo pool (bench/bench_semantic_map.py, docs/seeds.md): trustworthiness at k=10 of points placed
after the fit 0.82 against PCA's 0.70 (0.91 against 0.70 on the fitted points), for 10 s of fitting per 4,000
points on 2 cores and about 1.2 ms per placed point; PCA stays as ``selection.map_method: pca``. Bounds are the 0.5
and 99.5 percentiles of the fitted points, as for PCA; placed points beyond them land in the edge cells.
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.projection import ProjectionError

PERPLEXITY = 30.0  # openTSNE's default; lowered for samples too small for it (it needs 3 x perplexity neighbours)


@dataclass
class TsneMap:
    model: str
    bounds: list[float]  # x_lo, x_hi, y_lo, y_hi
    fitted_on: int
    created: str
    perplexity: float
    dim: int  # embedding dimensions it was fitted on
    embedding: Any = field(repr=False)  # openTSNE.TSNEEmbedding
    kind: str = "tsne"
    explained: list[float] = field(default_factory=list)  # PCA's figure; t-SNE has none
    fingerprint: str = ""  # of the fitted sample and the seed (tools/semantic_map.py): the same fit, the same id

    @property
    def map_id(self) -> str:
        return f"tsne:{self.model}:{self.fitted_on}:{self.fingerprint or self.created}"

    @classmethod
    def fit(cls, vectors: np.ndarray, model: str, seed: int = 0, n_jobs: int = 2) -> "TsneMap":
        try:
            from openTSNE import TSNE
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ProjectionError("the t-SNE map needs openTSNE (pip install openTSNE), or set "
                                  "selection.map_method=pca") from exc
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) < 5:
            raise ProjectionError(f"need at least 5 vectors to fit a t-SNE map, got shape {x.shape}")
        perplexity = min(PERPLEXITY, (len(x) - 1) / 3.0)
        emb = TSNE(n_components=2, perplexity=perplexity, metric="cosine", n_jobs=n_jobs, random_state=seed,
                   verbose=False).fit(x)
        # openTSNE's transform() first re-centres the fitted embedding, in place, on its bounding box's centre; the
        # fit leaves it centred on its mean. Centred here once, the fitted places, the bounds and every later
        # placement share one frame (transform's re-centring is then a no-op).
        emb -= (np.max(emb, axis=0) + np.min(emb, axis=0)) / 2
        xy = np.asarray(emb)
        lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
        return cls(model, [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])], len(x),
                   time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), perplexity, x.shape[1], emb)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ProjectionError(f"vectors of shape {x.shape} do not fit a t-SNE map of {self.model} embeddings")
        if not len(x):
            return np.zeros((0, 2))
        return np.asarray(self.embedding.transform(x), dtype=np.float64)

    def cells(self, xy: np.ndarray, grid: int) -> np.ndarray:
        from tools.projection import grid_index
        return grid_index(self.bounds, xy, grid)

    def save(self, path: Path) -> None:
        """Pickled (openTSNE's documented way to keep an embedding); the file is the home's own, read back only
        by this code."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "TsneMap":
        with open(path, "rb") as fh:
            got = pickle.load(fh)
        if not isinstance(got, cls):
            raise ProjectionError(f"{path} does not hold a t-SNE map")
        return got


def tsne_path(home: Path) -> Path:
    return Path(home) / "map-tsne.pkl"
