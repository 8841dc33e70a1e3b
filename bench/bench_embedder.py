"""Embedding throughput per model: texts/s on short tags and on instructions, one thread and the default threads.

    python bench/bench_embedder.py [--n 2000]

USE (numpy) and MiniLM (sentence-transformers on torch, CPU) encode the same texts through their backends (the
Embedder's vector cache is bypassed, so every text is really encoded). Each figure is the best of --repeat runs
after a warm-up; the ratios are against MiniLM at default threads measured in the same run, so they stay
comparable when the machine is loaded. The texts: tags from bench/tag_pairs.jsonl and the packaged benchmark
prompts (instruction-length, cut to embedding.max_chars), repeated up to --n.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings, load_config  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedder_backends import load_backend, resolve_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def texts_of(kind: str, n: int, assets: AssetStore, max_chars: int) -> list[str]:
    if kind == "tags":
        pairs = [json.loads(line) for line in open(ROOT / "bench" / "tag_pairs.jsonl", encoding="utf-8")]
        base = sorted({p[k] for p in pairs for k in ("a", "b")})
    else:
        from tools.leakage import load_benchmarks
        base = [p.text[:max_chars] for p in load_benchmarks(load_config(env={}).leakage, assets)]
    return (base * (n // len(base) + 1))[:n]


def rate(backend, texts: list[str], batch: int, repeat: int) -> float:
    backend.encode(texts[:64], batch, False)  # warm-up: lazy weights, first-call allocations
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        backend.encode(texts, batch, False)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="texts per measurement")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--assets", default=str(ROOT / ".iloop-assets"))
    args = ap.parse_args()
    import torch

    assets = AssetStore(Path(args.assets))
    default_threads = torch.get_num_threads()
    rows = []
    for kind in ("tags", "instructions"):
        texts = texts_of(kind, args.n, assets, EmbeddingSettings().max_chars)
        for model in ("minilm-l6-v2", "use-multilingual-v3"):
            for threads in (0, 1):
                s = EmbeddingSettings(model=model, threads=threads, device="cpu")
                backend = load_backend(resolve_model(s, assets), s)
                torch.set_num_threads(threads or default_threads)  # MiniLM's threads; USE sets its own
                rows.append((kind, model, threads or default_threads, rate(backend, texts, s.batch_size,
                                                                            args.repeat)))
        torch.set_num_threads(default_threads)
    print(f"{args.n} texts per run, best of {args.repeat}; ratio = texts/s over MiniLM at {default_threads} threads "
          "on the same texts")
    print(f"{'texts':12} {'model':20} {'threads':>7} {'texts/s':>9} {'ratio':>6}")
    for kind, model, threads, r in rows:
        base = next(x for k, m, t, x in rows if k == kind and m == "minilm-l6-v2" and t == default_threads)
        print(f"{kind:12} {model:20} {threads:7d} {r:9.0f} {r / base:6.2f}")


if __name__ == "__main__":
    main()
