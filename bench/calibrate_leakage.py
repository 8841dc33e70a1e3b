"""Calibrate the leakage guard's thresholds on a labelled set: recall on benchmark copies and paraphrases, false
positives on unrelated and same-subject instructions (bench/leakage_calibration.jsonl, written by hand).

    python bench/calibrate_leakage.py [--llm]   # --llm: also ask the judge role about band pairs

Prints each item's best cosine and n-gram containment, then recall / false-positive rate for a grid of
(remove_threshold, band_low, ngram_threshold). docs/leakage.md reports the run and the chosen defaults.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import load_config  # noqa: E402
from agents.resources import Resources  # noqa: E402

HERE = Path(__file__).resolve().parent


def pairs_of(res, items):
    from state.vectors import collection_name
    from tools.embedder import cached_vectors
    from tools.leakage import containment, nearest

    idx = res.leakage_guard().bench_index()
    vecs = cached_vectors(res.embedder, res.vectors, collection_name("turns", res.config.embedding.model),
                          [it["text"] for it in items])
    near = nearest(vecs, res.vectors, idx.collection, idx.prompts, res.config.leakage.top_k)
    return [[(sim, containment(p.text, it["text"], res.config.leakage.ngram_n), p) for p, sim in row]
            for it, row in zip(items, near)]


def flagged(pairs, remove, band, ngram, llm_same=None) -> bool:
    for k, (sim, ng, _) in enumerate(pairs):
        if sim >= remove or (sim >= band and ng >= ngram):
            return True
        if llm_same is not None and band <= sim < remove and llm_same.get(k):
            return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", action="store_true", help="ask the judge role about pairs in the band")
    ap.add_argument("--band", type=float, default=0.75)
    args = ap.parse_args()
    items = [json.loads(line) for line in open(HERE / "leakage_calibration.jsonl", encoding="utf-8")]
    home = Path(tempfile.mkdtemp(prefix="iloop-calib-"))
    cfg = load_config(home, overrides=[f"assets_dir={os.environ.get('ILOOP_ASSETS', '.iloop-assets')}"])
    res = Resources(cfg)
    all_pairs = pairs_of(res, items)
    llm_same: list[dict[int, bool]] = [{} for _ in items]
    if args.llm:
        from tools.embedded_server import embedded_servers
        from tools.leakage import SameTaskCheck
        from tools.llm import LLM
        todo = [(i, k, p.text, items[i]["text"]) for i, ps in enumerate(all_pairs) for k, (s, _, p) in enumerate(ps)
                if s >= args.band]
        with embedded_servers(cfg, ["judge"]):
            out = LLM(cfg, res.store).run(SameTaskCheck("judge"), [(b, t) for _, _, b, t in todo])
        for (i, k, _, _), r in zip(todo, out):
            llm_same[i][k] = bool(r.ok and r.value)
        print(f"judge asked about {len(todo)} band pairs ({cfg.role('judge').model})")
    print(f"{'label':6} {'kind':11} {'cos':>5} {'ngram':>5}  text -> nearest benchmark prompt")
    for it, ps in zip(items, all_pairs):
        sim, ng, p = max(ps, key=lambda x: x[0])
        print(f"{it['label']:6} {it['kind']:11} {sim:5.3f} {ng:5.2f}  {it['text'][:50]!r} -> {p.benchmark} {p.ref}")
    by_kind = defaultdict(list)
    for it, ps in zip(items, all_pairs):
        by_kind[it["kind"]].append(max(s for s, _, _ in ps))
    print("\nbest cosine by kind: " + "; ".join(f"{k} n={len(v)} min {min(v):.3f} max {max(v):.3f}"
                                              for k, v in by_kind.items()))
    leaks = [i for i, it in enumerate(items) if it["label"] == "leak"]
    mono = [i for i in leaks if items[i]["kind"] != "translation"]
    clean = [i for i, it in enumerate(items) if it["label"] == "clean"]
    print(f"\n{'remove':>6} {'band':>5} {'ngram':>5} | recall all ({len(leaks)}) | recall same-language ({len(mono)}) "
          f"| false positives ({len(clean)})")
    for remove in (0.85, 0.88, 0.90, 0.92, 0.95):
        for band in (0.70, 0.75, 0.80):
            for ngram in (0.3, 0.5, 0.7):
                llm = llm_same if args.llm else [None] * len(items)
                hit = lambda i: flagged(all_pairs[i], remove, band, ngram, llm[i])
                r_all = sum(map(hit, leaks)) / len(leaks)
                r_mono = sum(map(hit, mono)) / len(mono)
                fp = sum(map(hit, clean))
                print(f"{remove:6.2f} {band:5.2f} {ngram:5.2f} | {r_all:17.1%} | {r_mono:27.1%} | "
                      f"{fp:3d} ({fp / len(clean):.1%})")


if __name__ == "__main__":
    main()
