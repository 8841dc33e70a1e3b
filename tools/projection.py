"""The fixed 2D semantic plane as PCA (``selection.map_method: pca``; the default map is t-SNE, tools/tsne_map.py):
fitted ONCE on the embedded pool, stored, and only applied afterwards.

PCA has an exact ``transform`` for points embedded later, is deterministic (sign-fixed SVD), fits 200k x 512
vectors in seconds with numpy alone, and never moves: round 5's instructions land in the same plane as round 1's,
so cell counts and spatial entropy are comparable across rounds and data sets. What it gives up: PCA keeps global
variance, not local neighbourhoods (trustworthiness at k=10 on the demo pool 0.70 against t-SNE's 0.82), so its
cells are broader semantic regions. Bounds are the 0.5 and 99.5 percentiles of the fitted points; points outside
land in the edge cells, so one outlier cannot squash the grid.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


class ProjectionError(RuntimeError):
    """The stored projection does not fit these vectors; the message says why."""


@dataclass
class Projection:
    model: str
    mean: list[float]
    components: list[list[float]]  # 2 x d
    bounds: list[float]  # x_lo, x_hi, y_lo, y_hi
    fitted_on: int
    explained: list[float]
    created: str
    kind: str = "pca"
    fingerprint: str = ""  # of the fitted sample and the seed (tools/semantic_map.py): the same fit, the same id

    @property
    def map_id(self) -> str:
        return f"pca:{self.model}:{self.fitted_on}:{self.fingerprint or self.created}"

    @classmethod
    def fit(cls, vectors: np.ndarray, model: str) -> "Projection":
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or len(x) < 3:
            raise ProjectionError(f"need at least 3 vectors to fit a 2D projection, got shape {x.shape}")
        mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        comps = vt[:2]
        comps *= np.sign(comps[np.arange(2), np.abs(comps).argmax(axis=1)])[:, None]  # deterministic signs
        xy = (x - mean) @ comps.T
        lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
        var = s ** 2
        return cls(model, mean.tolist(), comps.tolist(), [lo[0], hi[0], lo[1], hi[1]], len(x),
                   (var[:2] / var.sum()).tolist(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.mean):
            raise ProjectionError(f"vectors of shape {x.shape} do not fit a projection of {len(self.mean)}-dim "
                                  f"{self.model} embeddings")
        return (x - np.asarray(self.mean)) @ np.asarray(self.components).T

    def cells(self, xy: np.ndarray, grid: int) -> np.ndarray:
        return grid_index(self.bounds, xy, grid)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: v for k, v in asdict(self).items() if k != "kind"}))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Projection":
        return cls(**json.loads(path.read_text()))


def grid_index(bounds: list[float], xy: np.ndarray, grid: int) -> np.ndarray:
    """Cell index (gx * grid + gy) of each 2D point on a grid x grid lattice over the map's bounds."""
    x_lo, x_hi, y_lo, y_hi = bounds
    gx = np.clip(((xy[:, 0] - x_lo) / max(x_hi - x_lo, 1e-12) * grid).astype(np.int64), 0, grid - 1)
    gy = np.clip(((xy[:, 1] - y_lo) / max(y_hi - y_lo, 1e-12) * grid).astype(np.int64), 0, grid - 1)
    return gx * grid + gy


def projection_path(home: Path) -> Path:
    return Path(home) / "projection.json"


def spatial_entropy(cells: np.ndarray) -> float:
    """H = -sum p log p over the occupied cells (natural log, as the report's values)."""
    _, counts = np.unique(cells[cells >= 0], return_counts=True)
    p = counts / counts.sum() if counts.sum() else counts
    return float(-(p * np.log(p)).sum()) if len(p) else 0.0
