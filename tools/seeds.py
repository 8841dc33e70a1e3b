"""Informative seed selection over a pool held as arrays (vectorised: a million rows select in seconds).

The paper's four criteria, applied in its order (hard-to-follow, long-tail, multi-skill, undertrained); each seed
keeps every criterion that chose it. ILA picks by depth over a grid of a fixed 2D projection. Steering weights act
the same way everywhere: a row's weight is its domain's weight times the strongest weight among its steered tags;
in a ranked criterion an item at rank r competes as if at rank r / weight, a weight of 0 excludes, and a
criterion's own weight multiplies its quota. A quota (hard, undertrained, ILA) is the number of seeds the criterion
may hold in total, resolved on the current pool: a round adds only what brings the criterion's seeds of earlier
rounds (``SeedFrame.held``) up to it. docs/seeds.md has the scaling rules of every cut.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from settings.seeds import ALL_CRITERIA, CRITERIA


@dataclass
class SeedFrame:
    """One row per candidate conversation; tags in CSR form (row r has tag_idx[tag_ptr[r]:tag_ptr[r+1]])."""

    ids: np.ndarray
    base_loss: np.ndarray  # NaN = not scored
    tag_ptr: np.ndarray
    tag_idx: np.ndarray
    tag_freq: np.ndarray  # conversations per tag
    tag_names: list[str]
    domain: np.ndarray  # primary domain index per row, -1 = none
    domain_names: list[str]
    ft_loss: np.ndarray | None = None
    ifd: np.ndarray | None = None
    exclude: np.ndarray | None = None  # already a seed
    cell: np.ndarray | None = None  # ILA grid cell per row, -1 = no vector
    held: dict[str, int] = field(default_factory=dict)  # criterion -> seeds it holds from earlier rounds

    @property
    def n_tags(self) -> np.ndarray:
        return np.diff(self.tag_ptr)

    def min_tag(self) -> tuple[np.ndarray, np.ndarray]:
        """(frequency, tag index) of each row's rarest tag; (inf, -1) for rows without tags."""
        n = len(self.ids)
        freq, which = np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        has = self.n_tags > 0
        if has.any() and len(self.tag_idx):
            per = self.tag_freq[self.tag_idx].astype(float)
            rows = np.repeat(np.arange(n), self.n_tags)
            order = np.lexsort((per, rows))  # by row, rarest first
            first = self.tag_ptr[:-1][has]
            freq[has] = per[order][first]
            which[has] = self.tag_idx[order][first]
        return freq, which


@dataclass
class Steering:
    domain: dict[str, float] = field(default_factory=dict)
    tag: dict[str, float] = field(default_factory=dict)
    criterion: dict[str, float] = field(default_factory=dict)
    operation: dict[str, float] = field(default_factory=dict)  # read by the evolver, not the selector

    def row_weights(self, f: SeedFrame) -> np.ndarray:
        dw = np.array([self.domain.get(d, 1.0) for d in f.domain_names] + [1.0])
        w = dw[f.domain]  # index -1 reads the trailing 1.0
        if self.tag and len(f.tag_idx):
            tw = np.array([self.tag.get(t, np.nan) for t in f.tag_names])[f.tag_idx]
            rows = np.repeat(np.arange(len(f.ids)), f.n_tags)
            best = np.full(len(f.ids), np.nan)
            steered = ~np.isnan(tw)
            np.fmax.at(best, rows[steered], tw[steered])
            w = np.where(np.isnan(best), w, w * best)
        return w


@dataclass
class Cuts:
    """The numbers every criterion used, resolved for this pool (reported with the selection)."""

    hard_quota: int
    long_tail_max_freq: int
    mid_band_max_freq: int
    undertrained_quota: int
    undertrained_threshold: float
    loss_mean: float
    loss_std: float
    ila_budget: int


def resolve_cuts(f: SeedFrame, s, paper_pool: int) -> Cuts:
    scored = f.base_loss[~np.isnan(f.base_loss)]
    n_scored, n_tagged = len(scored), int((f.n_tags > 0).sum())
    mean = float(scored.mean()) if n_scored else math.nan
    std = float(scored.std()) if n_scored else math.nan
    tail = s.long_tail_max_freq or max(2, math.ceil(200 * n_tagged / paper_pool))
    mid = s.mid_band_max_freq or max(math.ceil(2.5 * tail), math.ceil(500 * n_tagged / paper_pool))
    return Cuts(hard_quota=s.hard_count or math.ceil(50_000 * n_scored / paper_pool),
                long_tail_max_freq=tail, mid_band_max_freq=mid,
                undertrained_quota=s.undertrained_count or math.ceil(200_000 * n_scored / paper_pool),
                undertrained_threshold=mean + s.undertrained_z * std, loss_mean=mean, loss_std=std,
                ila_budget=s.ila_budget or math.ceil(1_200_000 * len(f.ids) / paper_pool))


def room(f: SeedFrame, criterion: str, total: float) -> int:
    """Seeds a criterion may still add this round: its total quota less what earlier rounds gave it."""
    return max(0, round(total) - f.held.get(criterion, 0))


def _ranked(key: np.ndarray, eligible: np.ndarray, weight: np.ndarray, quota: int, near: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Rows with the smallest key, ranks divided by weight; (chosen, near misses) in order."""
    rows = np.flatnonzero(eligible & (weight > 0))
    if not len(rows) or quota <= 0:
        return np.array([], dtype=np.int64), rows[np.argsort(key[rows], kind="stable")][:near]
    rank = np.empty(len(rows))
    rank[np.argsort(key[rows], kind="stable")] = np.arange(1, len(rows) + 1)
    order = rows[np.lexsort((key[rows], rank / weight[rows]))]
    return order[:quota], order[quota:quota + near]


def _cap(rows: np.ndarray, key: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1:
        return rows
    return rows[np.argsort(key[rows], kind="stable")][:math.ceil(factor * len(rows))] if factor > 0 else rows[:0]


def select_criteria(f: SeedFrame, s, cuts: Cuts, steering: Steering, seed: int
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, int]]:
    """criterion -> chosen row indices, criterion -> near-miss row indices, drop reason -> rows dropped."""
    weight = steering.row_weights(f)
    free = np.ones(len(f.ids), bool) if f.exclude is None else ~f.exclude
    cw = {c: steering.criterion.get(c, 1.0) for c in CRITERIA}
    chosen, near, drops = {}, {}, {}
    scored = ~np.isnan(f.base_loss)
    if s.hard_measure == "ifd":
        ifd = f.ifd if f.ifd is not None else np.full(len(f.ids), np.nan)
        # IFD > 1: the query makes the answer harder to predict, i.e. query and answer do not match; the authors'
        # README (Superfiltering) drops these before ranking, else the "hardest" would be the misaligned pairs.
        misaligned = free & np.isfinite(ifd) & (ifd > 1)
        drops["ifd_above_1"] = int(misaligned.sum())
        key = -np.nan_to_num(ifd, nan=-np.inf)
        ok = free & np.isfinite(key) & ~misaligned
    else:
        red = f.base_loss - (f.ft_loss if f.ft_loss is not None else np.full(len(f.ids), np.nan))
        key, ok = red, free & ~np.isnan(red)
    chosen["hard"], near["hard"] = _ranked(key, ok, weight, room(f, "hard", cuts.hard_quota * cw["hard"]),
                                           s.near_misses)

    min_freq, _ = f.min_tag()
    live = free & (weight > 0)
    tail = np.flatnonzero(live & (min_freq < cuts.long_tail_max_freq))
    band = np.flatnonzero(live & (min_freq >= cuts.long_tail_max_freq) & (min_freq < cuts.mid_band_max_freq))
    draw = np.random.default_rng(seed).random(len(f.ids))  # one draw per row: stable under steering changes
    take = draw[band] < np.minimum(1.0, s.mid_band_share * weight[band])
    tail_rows = np.concatenate([tail, band[take]])
    chosen["long_tail"] = _cap(tail_rows, min_freq / np.maximum(weight, 1e-9), cw["long_tail"])
    near["long_tail"] = band[~take][np.argsort(draw[band][~take])][:s.near_misses]

    many = np.flatnonzero(live & (f.n_tags >= s.multi_skill_min_tags))
    chosen["multi_skill"] = _cap(many, -f.n_tags * weight, cw["multi_skill"])
    near["multi_skill"] = np.flatnonzero(live & (f.n_tags == s.multi_skill_min_tags - 1))[:s.near_misses]

    over = free & scored & (f.base_loss > cuts.undertrained_threshold)
    chosen["undertrained"], near_u = _ranked(-np.nan_to_num(f.base_loss, nan=-np.inf), over, weight,
                                             room(f, "undertrained", cuts.undertrained_quota * cw["undertrained"]),
                                             s.near_misses)
    below = np.flatnonzero(free & scored & (f.base_loss <= cuts.undertrained_threshold))
    near["undertrained"] = np.concatenate([near_u, below[np.argsort(-f.base_loss[below])][:s.near_misses]])
    return chosen, near, drops


def depth(f: SeedFrame) -> np.ndarray:
    """log(number of tags) x base loss (the report's depth); NaN where unscored or untagged."""
    with np.errstate(divide="ignore"):
        d = np.log(f.n_tags.astype(float)) * f.base_loss
    return np.where(f.n_tags > 0, d, np.nan)


def ila_order(cell: np.ndarray, value: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Rows in ILA visiting order: round k takes the k-th deepest of every non-empty cell, deepest first."""
    rows = np.flatnonzero(eligible & (cell >= 0) & ~np.isnan(value))
    if not len(rows):
        return rows
    by_cell = rows[np.lexsort((-value[rows], cell[rows]))]
    c = cell[by_cell]
    starts = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
    within = np.arange(len(c)) - np.repeat(starts, np.diff(np.r_[starts, len(c)]))
    return by_cell[np.lexsort((-value[by_cell], within))]


def select_ila(f: SeedFrame, cuts: Cuts, steering: Steering) -> np.ndarray:
    weight = steering.row_weights(f)
    free = np.ones(len(f.ids), bool) if f.exclude is None else ~f.exclude
    budget = room(f, "ila", cuts.ila_budget * steering.criterion.get("ila", 1.0))
    if f.cell is None or budget <= 0:
        return np.array([], dtype=np.int64)
    return ila_order(f.cell, depth(f) * weight, free & (weight > 0))[:budget]


def combine(chosen: dict[str, np.ndarray]) -> dict[int, list[str]]:
    """row index -> criteria that chose it, in the paper's order (ILA last)."""
    out: dict[int, list[str]] = {}
    for crit in ALL_CRITERIA:
        for r in chosen.get(crit, ()):
            out.setdefault(int(r), []).append(crit)
    return out
