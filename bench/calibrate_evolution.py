"""Calibrate the evolver's `unchanged` cut (evolution.max_similarity) per embedding model on labelled rewrites
(bench/evolution_pairs.jsonl, written by hand).

    python bench/calibrate_evolution.py [--models use-multilingual-v3 minilm-l6-v2]

Each pair is a seed instruction and a rewrite: ``unchanged`` (a near-copy: punctuation, a word swapped, "please"
added; Evol-Instruct's elimination rule 1 wants these rejected) or ``evolved`` (an Evol-Instruct rewrite: a
constraint, a concrete case, more reasoning steps), in English and Chinese. For each model it prints the cosine
per class and, for "unchanged when cosine >= t", how many near-copies are caught and how many real evolutions would
be thrown away. docs/evolution.md reports the run and the presets (settings `evolution.max_similarity`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedder import Embedder  # noqa: E402

HERE = Path(__file__).resolve().parent
CUTS = [round(0.80 + 0.01 * k, 2) for k in range(20)]  # 0.80 .. 0.99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["use-multilingual-v3", "minilm-l6-v2"])
    args = ap.parse_args()
    pairs = [json.loads(line) for line in open(HERE / "evolution_pairs.jsonl", encoding="utf-8") if line.strip()]
    assets = AssetStore(Path(os.environ.get("ILOOP_ASSETS", HERE.parent / ".iloop-assets")))
    near = np.array([p["label"] == "unchanged" for p in pairs])
    for model in args.models:
        emb = Embedder(EmbeddingSettings(model=model), assets)
        cos = np.einsum("ij,ij->i", emb.encode([p["seed"] for p in pairs]), emb.encode([p["rewrite"] for p in pairs]))
        print(f"\n== {model}: {near.sum()} near-copies, {(~near).sum()} evolutions")
        for label, mask in (("unchanged", near), ("evolved", ~near)):
            q = np.percentile(cos[mask], [0, 10, 50, 90, 100])
            print(f"{label:9} min {q[0]:.3f} p10 {q[1]:.3f} median {q[2]:.3f} p90 {q[3]:.3f} max {q[4]:.3f}")
        print(f"{'cut':>5} {'near-copies caught':>18} {'evolutions lost':>15}")
        for t in CUTS:
            print(f"{t:5.2f} {int((near & (cos >= t)).sum()):18d} {int((~near & (cos >= t)).sum()):15d}")
        low = sorted(zip(cos[near], [p["rewrite"] for p, n in zip(pairs, near) if n]))[:4]
        high = sorted(zip(cos[~near], [p["rewrite"] for p, n in zip(pairs, near) if not n]), reverse=True)[:3]
        print("lowest near-copies: " + "; ".join(f"{c:.3f} {t[:50]!r}" for c, t in low))
        print("highest evolutions: " + "; ".join(f"{c:.3f} {t[:50]!r}" for c, t in high))


if __name__ == "__main__":
    main()
