"""Seed selection over a synthetic pool of 1M rows (Zipf tag frequencies, ~5 tags a row, losses, 20 domains):
the four criteria and ILA on a 200 x 200 grid, against a baseline measured in the same run (one argsort of the
1M losses). Prints seconds and ratios; no assertions.

Usage: python bench/bench_selection.py [--rows 1000000] [--tags 20000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings.seeds import SelectionSettings  # noqa: E402
from tools.seeds import SeedFrame, Steering, combine, resolve_cuts, select_criteria, select_ila  # noqa: E402


def synthetic(rows: int, tags: int, seed: int = 0) -> SeedFrame:
    rng = np.random.default_rng(seed)
    n_tags = rng.integers(1, 10, size=rows)
    tag_idx = np.minimum(rng.zipf(1.6, size=int(n_tags.sum())) - 1, tags - 1)
    freq = np.bincount(tag_idx, minlength=tags)
    base = rng.gamma(4.0, 0.4, size=rows)
    return SeedFrame(ids=np.arange(1, rows + 1), base_loss=base, ft_loss=base - rng.uniform(0, 0.6, rows),
                     tag_ptr=np.r_[0, np.cumsum(n_tags)], tag_idx=tag_idx, tag_freq=freq,
                     tag_names=[f"tag {k}" for k in range(tags)], domain=rng.integers(0, 20, size=rows),
                     domain_names=[f"domain {k}" for k in range(20)], exclude=np.zeros(rows, bool),
                     cell=rng.integers(0, 200 * 200, size=rows))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tags", type=int, default=20_000)
    args = ap.parse_args()
    f, t_build = timed(lambda: synthetic(args.rows, args.tags))
    settings = SelectionSettings()
    steering = Steering(domain={"domain 3": 3.0, "domain 7": 0.0}, tag={"tag 5": 2.0}, criterion={"hard": 2.0})
    _, t_base = timed(lambda: np.argsort(f.base_loss))
    cuts, t_cuts = timed(lambda: resolve_cuts(f, settings, 7_000_000))
    (chosen, near), t_crit = timed(lambda: select_criteria(f, settings, cuts, steering, 0))
    ila, t_ila = timed(lambda: select_ila(f, cuts, steering))
    picks, t_comb = timed(lambda: combine({**chosen, "ila": ila}))
    print(f"{args.rows:,} rows, {int(f.n_tags.sum()):,} tag links, {args.tags:,} tags (synthetic, built in "
          f"{t_build:.2f} s)")
    print(f"baseline argsort of the losses: {t_base:.3f} s")
    for name, t in (("cuts", t_cuts), ("four criteria", t_crit), ("ILA 200x200", t_ila), ("combine", t_comb)):
        print(f"{name:>14}: {t:7.3f} s  ({t / t_base:5.1f}x baseline)")
    print("seeds per criterion: " + ", ".join(f"{c}={len(v)}" for c, v in chosen.items()) + f", ila={len(ila)}; "
          f"{len(picks):,} distinct seeds")


if __name__ == "__main__":
    main()
