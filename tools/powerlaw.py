"""Degree distribution of the tag co-occurrence graph and its power-law fit, P(degree = d) ~ d^-gamma.

Two estimates are reported: the discrete maximum-likelihood exponent with d_min chosen by the smallest
Kolmogorov-Smirnov distance (Clauset, Shalizi & Newman 2009), and the log-log least-squares line over the degree
histogram that the InfinityInstruct-Subject report draws (with its R^2).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class PowerLawFit:
    gamma: float  # MLE exponent
    d_min: int
    ks_distance: float  # fit quality of the MLE: max gap between empirical and fitted CDF above d_min
    n_tail: int  # nodes with degree >= d_min
    n_nodes: int
    loglog_slope: float  # -gamma of the least-squares line on log P(d) vs log d
    loglog_r2: float

    def as_dict(self) -> dict:
        return asdict(self)


def _mle(tail: np.ndarray, d_min: int) -> float:
    # Discrete approximation (Clauset et al. eq. 3.7), accurate for d_min >= ~2.
    return 1.0 + len(tail) / float(np.sum(np.log(tail / (d_min - 0.5))))


def _ks(tail: np.ndarray, d_min: int, gamma: float) -> float:
    values = np.sort(tail)
    empirical = np.arange(1, len(values) + 1) / len(values)
    fitted = 1.0 - (values / d_min) ** (1.0 - gamma)  # continuous CDF; fine for the comparison of d_min choices
    return float(np.max(np.abs(empirical - fitted)))


def fit_degrees(degrees: list[int] | np.ndarray, min_tail: int = 20) -> PowerLawFit | None:
    d = np.asarray([x for x in degrees if x > 0], dtype=float)
    if len(d) < max(min_tail, 5) or len(np.unique(d)) < 3:
        return None
    best = None
    candidates = np.unique(d)
    for d_min in candidates[candidates >= 2][:200]:
        tail = d[d >= d_min]
        if len(tail) < min_tail:
            break
        gamma = _mle(tail, int(d_min))
        ks = _ks(tail, int(d_min), gamma)
        if best is None or ks < best[2]:
            best = (int(d_min), gamma, ks, len(tail))
    if best is None:
        return None
    hist = Counter(d.astype(int).tolist())
    xs = np.log(np.array(sorted(hist), dtype=float))
    ys = np.log(np.array([hist[k] for k in sorted(hist)], dtype=float) / len(d))
    slope, intercept = np.polyfit(xs, ys, 1)
    pred = slope * xs + intercept
    ss_res, ss_tot = float(np.sum((ys - pred) ** 2)), float(np.sum((ys - ys.mean()) ** 2))
    return PowerLawFit(gamma=round(best[1], 4), d_min=best[0], ks_distance=round(best[2], 4), n_tail=best[3],
                       n_nodes=len(d), loglog_slope=round(float(slope), 4),
                       loglog_r2=round(1 - ss_res / ss_tot if ss_tot else 0.0, 4))
