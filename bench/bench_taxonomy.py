"""Taxonomy costs at scale: normalising 20k unique tags, and the co-occurrence graph plus power-law fit for 1M
synthetic conversations with ~5 tags each. Prints times, rows/s and ratios against a baseline measured in the
same run; no assertions.

Usage: python bench/bench_taxonomy.py [--tags 20000] [--conversations 1000000] [--skip-embed]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import load_config  # noqa: E402
from state.cograph import graph_from_assignments  # noqa: E402
from tools.normalize import dbscan_clusters, greedy_merge, neighbour_pairs  # noqa: E402
from tools.powerlaw import fit_degrees  # noqa: E402

WORDS = ("python sql java data web network cloud security machine learning statistics probability calculus algebra "
         "geometry physics chemistry biology history law contract tax marketing sales writing poetry story essay "
         "translation grammar cooking travel fitness nutrition music film art design debugging testing api database "
         "optimization analysis planning strategy negotiation emotional support career interview finance accounting "
         "economics philosophy ethics psychology education teaching").split()
SUFFIX = ("programming", "analysis", "writing", "design", "planning", "optimization", "concepts", "calculation",
          "management", "skills", "knowledge", "review", "debugging", "modeling", "evaluation")


def tag_names(n: int, seed: int = 0) -> list[str]:
    rnd, names = random.Random(seed), set()
    while len(names) < n:
        k = rnd.choice([1, 1, 2, 2, 3])
        names.add(" ".join(rnd.sample(WORDS, k)) + " " + rnd.choice(SUFFIX))
    return sorted(names)


def bench_normalize(n: int, skip_embed: bool) -> None:
    names = tag_names(n)
    if skip_embed:
        rng = np.random.default_rng(0)
        vecs = rng.normal(size=(n, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        t_embed = float("nan")
    else:
        from settings import EmbeddingSettings
        from tools.assets import AssetStore
        from tools.embedder import Embedder

        cfg = load_config(env={})
        emb = Embedder(EmbeddingSettings(), AssetStore(Path(__file__).resolve().parents[1] / ".iloop-assets")
                       if cfg.assets_dir is None else AssetStore(cfg.assets_dir))
        t0 = time.perf_counter()
        vecs = emb.encode(names)
        t_embed = time.perf_counter() - t0
    th = load_config(env={}).taxonomy.thresholds["minilm-l6-v2"]
    t0 = time.perf_counter()
    _ = vecs @ vecs.T  # baseline: the one dense similarity product any exact method must compute
    t_dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    pairs = neighbour_pairs(vecs, th.merge_threshold)
    first = greedy_merge(list(range(n)), pairs, n)
    t_merge = time.perf_counter() - t0
    reps = sorted({r for r, _ in first.values()})
    t0 = time.perf_counter()
    labels = dbscan_clusters(vecs[reps], th.dbscan_eps, th.dbscan_min_samples)
    t_dbscan = time.perf_counter() - t0
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.array([0])
    top_of = {lab: reps[int(np.flatnonzero(labels == lab)[0])] for lab in set(labels.tolist()) if lab >= 0}
    joinable = sum(1 for r, lab in zip(reps, labels) if lab >= 0 and vecs[r] @ vecs[top_of[lab]] >= 1 - 2 * th.dbscan_eps)
    print(f"normalise {n} unique tags: embed {t_embed:.1f}s ({n / t_embed:.0f} tags/s), threshold merge "
          f"{t_merge:.2f}s ({t_merge / t_dense:.2f}x a dense {n}x{n} similarity product, {len(pairs)} pairs), "
          f"DBSCAN {t_dbscan:.2f}s over {len(reps)} representatives ({int((labels >= 0).sum())} clustered, largest "
          f"cluster {int(sizes.max())}, {joinable} within two eps-steps of their cluster's first tag)")


def bench_graph(n_conv: int, n_tags: int = 20000, per: int = 5) -> None:
    rng = np.random.default_rng(0)
    # Zipf-like tag popularity, as real tag frequencies are.
    weights = 1.0 / np.arange(1, n_tags + 1) ** 1.1
    weights /= weights.sum()
    sizes = np.clip(rng.poisson(per, n_conv), 1, 12)
    draws = rng.choice(n_tags, size=int(sizes.sum()), p=weights)
    t0 = time.perf_counter()
    assignments, pos = [], 0
    for s in sizes:
        assignments.append(set(draws[pos:pos + s].tolist()))
        pos += s
    t_build_sets = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = graph_from_assignments(assignments)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = fit_degrees([d for _, d in g.degree()])
    t_fit = time.perf_counter() - t0
    print(f"graph for {n_conv} conversations (~{per} tags): {t_graph:.1f}s ({n_conv / t_graph:.0f} conv/s, "
          f"{t_graph / t_build_sets:.1f}x the time to just build the tag sets), {g.number_of_nodes()} nodes, "
          f"{g.number_of_edges()} edges; power-law fit {t_fit:.2f}s: gamma {fit.gamma if fit else None}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", type=int, default=20000)
    ap.add_argument("--conversations", type=int, default=1_000_000)
    ap.add_argument("--skip-embed", action="store_true", help="random unit vectors instead of MiniLM")
    args = ap.parse_args()
    bench_normalize(args.tags, args.skip_embed)
    bench_graph(args.conversations)


if __name__ == "__main__":
    main()
