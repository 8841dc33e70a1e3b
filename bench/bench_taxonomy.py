"""Taxonomy costs at scale: normalising 20k unique tags, and the co-occurrence graph plus power-law fit for 1M
synthetic conversations with ~5 tags each. Prints times, rows/s and ratios against a baseline measured in the
same run; no assertions.

With --store, measures real tags instead (a store the tagger filled): DBSCAN merges with eps read as a cosine
distance (the old code) against eps read as the Euclidean distance of unit vectors (the report's scikit-learn
default), on the same English tags and representatives, with a seeded sample of the merged pairs to judge; then the
co-occurrence graph mixed over both languages (the old graph) against one language's graph, with the power-law fit
and its likelihood-ratio verdict for each (docs/taxonomy.md reports the run).

Usage: python bench/bench_taxonomy.py [--tags 20000] [--conversations 1000000] [--skip-embed]
       python bench/bench_taxonomy.py --store HOME/iloop.sqlite [--eps 0.47 0.6 0.671 0.707] [--model minilm-l6-v2]
       python bench/bench_taxonomy.py --labelled bench/tag_pairs.jsonl  (the same on hand-labelled tag pairs)
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import load_config  # noqa: E402
from state.cograph import graph_from_assignments  # noqa: E402
from tools.normalize import (chain_floor, cluster_merges, dbscan_clusters, eps_cosine, greedy_merge,  # noqa: E402
                             neighbour_pairs)
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
        vecs = rng.normal(size=(n, 512)).astype(np.float32)  # the default embedder's dimension
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
    cfg = load_config(env={})
    th = cfg.thresholds()  # the preset of the default embedder, the one that produced the vectors
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
    _, largest, kept_apart = cluster_merges(vecs, reps, labels, {r: k for k, r in enumerate(reps)}.get,
                                            chain_floor(th.dbscan_eps))
    print(f"normalise {n} unique tags: embed {t_embed:.1f}s ({n / t_embed:.0f} tags/s), threshold merge "
          f"{t_merge:.2f}s ({t_merge / t_dense:.2f}x a dense {n}x{n} similarity product, {len(pairs)} pairs), "
          f"DBSCAN (eps {th.dbscan_eps}, cosine >= {eps_cosine(th.dbscan_eps):.3f}) {t_dbscan:.2f}s over "
          f"{len(reps)} representatives ({int((labels >= 0).sum())} clustered, largest cluster {int(sizes.max())}; "
          f"after the chain guard: largest {largest}, {kept_apart} kept apart)")


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
          f"{g.number_of_edges()} edges; power-law fit {t_fit:.2f}s: gamma {fit.gamma if fit else None} "
          f"(x_min {fit.x_min if fit else None}, favoured {fit.favoured if fit else None})")


def dbscan_variants(names: list[str], order: list[int], vecs: np.ndarray, merge: float, eps_values: list[float],
                    sample: int, labelled: dict[frozenset, str] | None = None) -> None:
    """Merges per eps under both readings, on the same threshold-merge representatives (``order``: highest
    priority first). With ``labelled`` pairs, each merge of a labelled pair is counted right (synonym) or wrong."""
    from sklearn.cluster import DBSCAN

    n = len(names)
    rank = {k: r for r, k in enumerate(order)}
    first = greedy_merge(order, neighbour_pairs(vecs, merge), n)
    reps = sorted({r for r, _ in first.values()}, key=rank.get)
    print(f"{n} tags, {n - len(reps)} threshold merges at cosine >= {merge}, {len(reps)} representatives")
    print("reading    eps  neighbour-cos  clusters  largest  merges  guarded  kept-apart  synonym  distinct")
    for eps in eps_values:
        for reading in ("cosine", "euclidean"):
            if reading == "cosine":  # the old code: eps as a cosine distance, guard at cosine >= 1 - 2 eps
                labels = DBSCAN(eps=eps, min_samples=2, metric="cosine", algorithm="brute").fit(vecs[reps]).labels_
                cos, floor = 1 - eps, 1 - 2 * eps
            else:
                labels, cos, floor = dbscan_clusters(vecs[reps], eps, 2), eps_cosine(eps), chain_floor(eps)
            found = labels[labels >= 0]
            sizes = np.bincount(found) if len(found) else np.array([0])
            final, _, kept = cluster_merges(vecs, reps, labels, rank.get, floor)
            merged = [(r, top) for r, top in final.items() if r != top]
            verdict = [(labelled or {}).get(frozenset((names[r], names[t])), "?") for r, t in merged]
            print(f"{reading:9} {eps:5.3f}  {cos:13.3f}  {int((sizes > 0).sum()):8d}  {int(sizes.max()):7d}  "
                  f"{len(found) - int((sizes > 0).sum()):6d}  {len(merged):7d}  {kept:10d}  "
                  f"{verdict.count('synonym'):7d}  {verdict.count('distinct'):8d}")
            for k in sorted(random.Random(0).sample(range(len(merged)), min(sample, len(merged)))):
                r, top = merged[k]
                print(f"    {names[r]} -> {names[top]} ({float(vecs[r] @ vecs[top]):.3f}) {verdict[k]}")


def bench_labelled(path: Path, model: str, eps_values: list[float], sample: int = 12) -> None:
    """The English tags of the labelled calibration pairs, each counted once (priority: name order)."""
    import json

    pairs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    pairs = [p for p in pairs if p["lang"] == "en" and p["class"] in ("synonym", "distinct")]
    labelled = {frozenset((p["a"], p["b"])): p["class"] for p in pairs}
    names = sorted({x for p in pairs for x in (p["a"], p["b"])})
    th = load_config(env={}).taxonomy.thresholds[model]
    dbscan_variants(names, list(range(len(names))), embedder(model).encode(names), th.merge_threshold, eps_values,
                    sample, labelled)


def embedder(model: str):
    from settings import EmbeddingSettings
    from tools.assets import AssetStore
    from tools.embedder import Embedder

    cfg = load_config(env={})
    return Embedder(EmbeddingSettings(model=model), AssetStore(Path(__file__).resolve().parents[1] / ".iloop-assets")
                    if cfg.assets_dir is None else AssetStore(cfg.assets_dir))


def graph_variants(store, lang_of_conv_sets) -> None:
    """The old mixed graph against one language's graph: size, degrees and the fit's verdict."""
    from state.cograph import cooccurrence_from_store

    graphs = {"mixed en+zh (old)": graph_from_assignments(lang_of_conv_sets),
              "en only": cooccurrence_from_store(store, "en"), "zh only": cooccurrence_from_store(store, "zh")}
    en_ids = set(graphs["en only"].nodes)
    for name, g in graphs.items():
        deg = [d for _, d in g.degree()]
        fit = fit_degrees(deg)
        en_deg = [d for t, d in g.degree() if t in en_ids]
        line = (f"{name:18} {g.number_of_nodes():5d} nodes {g.number_of_edges():6d} edges, mean degree "
                f"{np.mean(deg):.1f} (English tags: {np.mean(en_deg) if en_deg else 0:.1f})")
        if fit:
            comp = ", ".join(f"vs {k} R {c.ratio:+.2f} p {c.p_value:.3g}" for k, c in fit.comparisons.items())
            line += (f"; gamma {fit.gamma} +- {fit.sigma} (x_min {fit.x_min}, tail {fit.n_tail}, KS {fit.ks_distance}), "
                     f"{comp} -> {fit.favoured} (p {fit.p_value:.3g}); log-log slope {fit.loglog_slope}")
        print(line)


def bench_real(path: Path, model: str, eps_values: list[float], sample: int = 12) -> None:
    import shutil
    import tempfile

    from state.db import Store
    from state.tags import tags_of_language
    from tools.normalize import normalize_language

    th = load_config(env={}).taxonomy.thresholds[model]
    emb = embedder(model)
    with tempfile.TemporaryDirectory() as tmp:  # normalisation writes: work on a copy
        shutil.copy(path, Path(tmp) / "s.sqlite")
        store = Store(f"sqlite:///{Path(tmp) / 's.sqlite'}")
        tags, links = tags_of_language(store, "en")
        freq = Counter(tid for _, tid in set(links))
        order = sorted(range(len(tags)), key=lambda k: (freq[tags[k].id], -tags[k].id), reverse=True)
        names = [t.name for t in tags]
        dbscan_variants(names, order, emb.encode(names), th.merge_threshold, eps_values, sample)
        for lang in ("en", "zh"):
            rep = normalize_language(store, lang, emb.encode if lang in th.languages else None, th, 1, round_=1)
            print(f"normalised {lang} with the {model} preset (eps {th.dbscan_eps}): {rep.as_dict()}")
        per_conv: dict[int, set[int]] = defaultdict(set)
        for lang in ("en", "zh"):
            rows, lang_links = tags_of_language(store, lang)
            canon = {r.id: r.canonical_id or r.id for r in rows}
            noise = {r.id for r in rows if r.status == "noise"}
            for cid, tid in lang_links:
                if canon[tid] not in noise:
                    per_conv[cid].add(canon[tid])
        graph_variants(store, per_conv.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", type=int, default=20000)
    ap.add_argument("--conversations", type=int, default=1_000_000)
    ap.add_argument("--skip-embed", action="store_true", help="random unit vectors instead of MiniLM")
    ap.add_argument("--store", type=Path, help="measure the real tags of this store (iloop.sqlite) instead")
    ap.add_argument("--labelled", type=Path, help="measure the English tags of labelled pairs (bench/tag_pairs.jsonl)")
    ap.add_argument("--eps", type=float, nargs="+", default=[0.25, 0.47, 0.6, 0.671, 0.707])
    ap.add_argument("--model", default="minilm-l6-v2", help="embedding preset for --store")
    args = ap.parse_args()
    if args.store or args.labelled:
        if args.labelled:
            bench_labelled(args.labelled, args.model, args.eps)
        if args.store:
            bench_real(args.store, args.model, args.eps)
        return
    bench_normalize(args.tags, args.skip_embed)
    bench_graph(args.conversations)


if __name__ == "__main__":
    main()
