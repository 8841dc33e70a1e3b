"""Seed selection over a synthetic pool of 1M rows (Zipf tag frequencies, ~5 tags a row, losses, 20 domains):
the four criteria and ILA on a 200 x 200 grid, against a baseline measured in the same run (one argsort of the
1M losses). Prints seconds and ratios; no assertions.

With --rounds R it instead grows a pool from --rows over R rounds (by --growth rows a round) and prints the seeds
each criterion holds after every round, quotas as totals (what tools/seeds.py does) against quotas re-applied each
round to the cumulative pool (the old logic: only earlier seeds were excluded).

Usage: python bench/bench_selection.py [--rows 1000000] [--tags 20000] [--rounds 6 --growth 4000]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
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


def head(f: SeedFrame, n: int) -> SeedFrame:
    """The pool of an earlier round: its first n rows, tag frequencies counted over them."""
    ptr = f.tag_ptr[:n + 1]
    idx = f.tag_idx[:ptr[-1]]
    return SeedFrame(ids=f.ids[:n], base_loss=f.base_loss[:n], ft_loss=f.ft_loss[:n], tag_ptr=ptr, tag_idx=idx,
                     tag_freq=np.bincount(idx, minlength=len(f.tag_names)), tag_names=f.tag_names,
                     domain=f.domain[:n], domain_names=f.domain_names, cell=f.cell[:n])


def rounds(f: SeedFrame, start: int, growth: int, n_rounds: int) -> None:
    settings = SelectionSettings()
    for mode in ("totals", "per-round"):
        seeds: dict[int, list[str]] = {}
        print(f"quotas as {mode}:")
        for r in range(n_rounds):
            g = head(f, start + growth * r)
            g.exclude = np.isin(np.arange(len(g.ids)), list(seeds))
            if mode == "totals":  # "per-round" leaves held empty: each round may add a full quota again
                g.held = dict(Counter(c for crits in seeds.values() for c in crits))
            cuts = resolve_cuts(g, settings, 7_000_000)
            chosen, _, _ = select_criteria(g, settings, cuts, Steering(), r)
            chosen["ila"] = select_ila(g, cuts, Steering())
            seeds.update(combine(chosen))
            held = Counter(c for crits in seeds.values() for c in crits)
            print(f"  round {r + 1}: pool {len(g.ids):,}, seeds {len(seeds):,} ({len(seeds) / len(g.ids):.0%}); "
                  + ", ".join(f"{c}={held[c]:,}" for c in ("hard", "long_tail", "multi_skill", "undertrained", "ila"))
                  + f" (quotas hard {cuts.hard_quota:,}, undertrained {cuts.undertrained_quota:,}, "
                    f"ila {cuts.ila_budget:,})")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tags", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--growth", type=int, default=4000)
    args = ap.parse_args()
    if args.rounds:
        return rounds(synthetic(args.rows + args.growth * (args.rounds - 1), args.tags), args.rows, args.growth,
                      args.rounds)
    f, t_build = timed(lambda: synthetic(args.rows, args.tags))
    settings = SelectionSettings()
    steering = Steering(domain={"domain 3": 3.0, "domain 7": 0.0}, tag={"tag 5": 2.0}, criterion={"hard": 2.0})
    _, t_base = timed(lambda: np.argsort(f.base_loss))
    cuts, t_cuts = timed(lambda: resolve_cuts(f, settings, 7_000_000))
    (chosen, near, _), t_crit = timed(lambda: select_criteria(f, settings, cuts, steering, 0))
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
