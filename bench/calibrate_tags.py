"""Calibrate the tag-merging thresholds per embedding model on labelled tag pairs (bench/tag_pairs.jsonl).

    python bench/calibrate_tags.py [--models use-multilingual-v3 minilm-l6-v2]

The pairs were written by hand as instruction-tuning tags in the tagger's style: ``synonym`` (same skill, same
language: should merge), ``distinct`` (related but different skills, same language: must not merge) and
``translation`` (an English tag and its Chinese translation: never merged, since normalisation is per language,
but they show whether the model is cross-lingual). For each model it prints the cosine distribution per class and
language, the precision and recall of "merge when cosine >= t" (synonyms are the positives, distinct pairs the
negatives) with the DBSCAN eps that links at the same cosine (Euclidean on unit vectors: eps = sqrt(2 (1 - t))),
and the top-1 translation retrieval. docs/taxonomy.md ("Calibration per embedding model") reports the run.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedder import Embedder  # noqa: E402

HERE = Path(__file__).resolve().parent
THRESHOLDS = [round(0.50 + 0.025 * k, 3) for k in range(19)]  # 0.50 .. 0.95


def load_pairs(path: Path = HERE / "tag_pairs.jsonl") -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def pair_cosines(embedder: Embedder, pairs: list[dict]) -> np.ndarray:
    a = embedder.encode([p["a"] for p in pairs])
    b = embedder.encode([p["b"] for p in pairs])
    return np.einsum("ij,ij->i", a, b)


def merge_table(pairs: list[dict], cos: np.ndarray, langs: tuple[str, ...]) -> list[tuple[float, float, float, int, int]]:
    """(t, precision, recall, merged synonyms, merged distinct pairs) of "merge when cosine >= t"."""
    pos = np.array([p["class"] == "synonym" and p["lang"] in langs for p in pairs])
    neg = np.array([p["class"] == "distinct" and p["lang"] in langs for p in pairs])
    rows = []
    for t in THRESHOLDS:
        tp, fp = int((pos & (cos >= t)).sum()), int((neg & (cos >= t)).sum())
        rows.append((t, tp / (tp + fp) if tp + fp else 1.0, tp / max(int(pos.sum()), 1), tp, fp))
    return rows


def f_half(precision: float, recall: float) -> float:
    """F0.5: precision counts twice as much as recall (a wrong merge loses a skill; a missed one leaves an alias)."""
    return 1.25 * precision * recall / (0.25 * precision + recall) if precision + recall else 0.0


def translation_top1(embedder: Embedder, pairs: list[dict]) -> tuple[int, int]:
    tr = [p for p in pairs if p["class"] == "translation"]
    a, b = embedder.encode([p["a"] for p in tr]), embedder.encode([p["b"] for p in tr])
    return int(((a @ b.T).argmax(axis=1) == np.arange(len(tr))).sum()), len(tr)


def report(model: str, pairs: list[dict], assets: AssetStore) -> None:
    emb = Embedder(EmbeddingSettings(model=model), assets)
    cos = pair_cosines(emb, pairs)
    print(f"\n== {model} ({emb.dim} dims)")
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for p, c in zip(pairs, cos):
        groups[(p["class"], p["lang"])].append(float(c))
    print(f"{'class':11} {'lang':6} {'n':>3} {'min':>6} {'p10':>6} {'median':>6} {'p90':>6} {'max':>6} {'mean':>6}")
    for (cls, lang), v in sorted(groups.items()):
        q = np.percentile(v, [0, 10, 50, 90, 100])
        print(f"{cls:11} {lang:6} {len(v):3d} " + " ".join(f"{x:6.3f}" for x in q) + f" {np.mean(v):6.3f}")
    hit, n = translation_top1(emb, pairs)
    print(f"translation top-1 (English tag -> its Chinese tag among all {n}): {hit}/{n}")
    for langs in (("en",), ("zh",), ("en", "zh")):
        print(f"\nmerge at cosine >= t, {'+'.join(langs)}: synonyms are positives, distinct pairs negatives")
        print(f"{'t':>6} {'eps':>6} {'precision':>9} {'recall':>7} {'F0.5':>6} {'syn merged':>10} "
              f"{'distinct merged':>15}")
        for t, prec, rec, tp, fp in merge_table(pairs, cos, langs):
            print(f"{t:6.3f} {math.sqrt(2 * (1 - t)):6.3f} {prec:9.3f} {rec:7.3f} {f_half(prec, rec):6.3f} "
                  f"{tp:10d} {fp:15d}")
    worst = sorted(((float(c), p) for p, c in zip(pairs, cos) if p["class"] == "distinct"), key=lambda x: -x[0])[:8]
    print("\nclosest distinct pairs: " + "; ".join(f"{p['a']} / {p['b']} {c:.3f}" for c, p in worst))
    loose = sorted(((float(c), p) for p, c in zip(pairs, cos) if p["class"] == "synonym"), key=lambda x: x[0])[:8]
    print("farthest synonym pairs: " + "; ".join(f"{p['a']} / {p['b']} {c:.3f}" for c, p in loose))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["use-multilingual-v3", "minilm-l6-v2"])
    ap.add_argument("--assets", default=str(Path(__file__).resolve().parents[1] / ".iloop-assets"))
    args = ap.parse_args()
    pairs = load_pairs()
    print(f"{len(pairs)} labelled pairs from bench/tag_pairs.jsonl")
    for model in args.models:
        report(model, pairs, AssetStore(Path(args.assets)))


if __name__ == "__main__":
    main()
