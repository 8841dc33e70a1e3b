"""Coverage and depth figures of one set of conversations (the dataset, a round's new items, the seeds, the random
reference), all on the same fixed semantic map so that sets and rounds compare (method.md section 6).

Pure numpy on arrays the measure step assembles (tools/measure_dataset.py):
- ``entropy``: spatial entropy H = -sum p log p over the map's grid cells (natural log, as the report's values);
- ``coverage``: log of the number of occupied cells, and ``occupied_cells`` itself;
- ``depth_*``: log(number of skill tags) x base loss per item (the report's depth; NaN where unscored or untagged),
  mean and quantiles over the items that have one, and ``depth_scored`` the share that has one;
- ``tag_share``: distinct canonical skill tags the set carries / canonical skill tags in the store;
- ``domain_entropy`` and ``domains_covered`` over primary domains;
- ``vendi``: the Vendi score (exp of the entropy of the eigenvalues of the cosine kernel / n) on a sample: the
  effective number of distinct items, 1 for copies of one item, n for n orthogonal ones.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tools.projection import spatial_entropy

COVERAGE_FIGURES = ("entropy", "occupied_cells", "tag_share")
DEPTH_FIGURES = ("depth_mean", "difficulty_mean")


@dataclass
class SetArrays:
    """One set's per-item values, aligned: cell (-1 = no vector), number of skill tags, base loss (NaN = not
    scored), primary domain (None = none), skill tag ids; ``vectors`` is a sample of its embeddings for Vendi."""

    cells: np.ndarray
    n_tags: np.ndarray
    base_loss: np.ndarray
    domains: list[str | None]
    tags: list[list[int]]
    vectors: np.ndarray | None = None
    difficulty: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.cells)
        if not (len(self.n_tags) == len(self.base_loss) == len(self.domains) == len(self.tags) == n):
            raise ValueError("SetArrays: cells, n_tags, base_loss, domains and tags must have one entry per item")


def depth_values(n_tags: np.ndarray, base_loss: np.ndarray) -> np.ndarray:
    """log(tags) x base loss; NaN where the item has no tag or no loss."""
    n = np.asarray(n_tags, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(np.where(n > 0, n, np.nan)) * np.asarray(base_loss, dtype=float)
    return d


def vendi_score(vectors: np.ndarray | None) -> float:
    """exp(-sum l log l) over the eigenvalues l of K/n, K the cosine kernel; computed from the d x d Gram matrix
    X^T X / n, which has the same non-zero eigenvalues, so n may exceed d at no cost."""
    if vectors is None or len(vectors) == 0:
        return 0.0
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    small = x @ x.T if len(x) <= x.shape[1] else x.T @ x
    lam = np.clip(np.linalg.eigvalsh(small / len(x)), 0.0, None)
    lam = lam[lam > 1e-12]
    return float(math.exp(-(lam * np.log(lam)).sum())) if len(lam) else 0.0


def _entropy(counts: Counter) -> float:
    total = sum(counts.values())
    return float(-sum(c / total * math.log(c / total) for c in counts.values())) if total else 0.0


def set_figures(a: SetArrays, n_canonical: int) -> dict[str, float]:
    """Every figure of one set, as metric values (names without the set's prefix)."""
    mapped = a.cells[a.cells >= 0]
    occupied = int(len(np.unique(mapped)))
    d = depth_values(a.n_tags, a.base_loss)
    scored = d[~np.isnan(d)]
    tags = {t for ts in a.tags for t in ts}
    domains = Counter(x for x in a.domains if x)
    out = {"size": float(len(a.cells)), "mapped": float(len(mapped)),
           "depth_scored": len(scored) / len(d) if len(d) else 0.0,
           "tag_share": len(tags) / n_canonical if n_canonical else 0.0,
           "tags_covered": float(len(tags)), "domains_covered": float(len(domains)),
           "domain_entropy": _entropy(domains), "vendi": vendi_score(a.vectors)}
    if len(mapped):  # no map figures for a set nothing of which is on the map: absent, not 0
        out.update(entropy=spatial_entropy(mapped), occupied_cells=float(occupied),
                   coverage=math.log(occupied) if occupied else 0.0)
    if len(scored):
        q = np.quantile(scored, [0.1, 0.5, 0.9])
        out.update(depth_mean=float(scored.mean()), depth_p10=float(q[0]),
                   depth_p50=float(q[1]), depth_p90=float(q[2]))
    if a.difficulty:
        out.update(difficulty_mean=float(np.mean(a.difficulty)), difficulty_rated=float(len(a.difficulty)))
    return out


def growth(now: dict[str, float], before: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    """Relative growth (now - before) / |before| of each named figure both sides have; a figure that was 0 grows by
    1.0 when it became positive (from nothing to something), 0.0 when it stayed 0."""
    out = {}
    for n in names:
        if n in now and n in before:
            b, v = before[n], now[n]
            out[n] = round((v - b) / abs(b), 6) if b else (1.0 if v > 0 else 0.0)
    return out
