"""Which fixed 2D map: PCA, openTSNE or UMAP, by neighbourhood preservation and time on the demo pool.

    python bench/bench_semantic_map.py [--fit 4000] [--held 1000] [--model use-multilingual-v3]

The demo's pools (ShareGPT, Alpaca-GPT4 en and zh) are read through the importer into a scratch store; a seeded
sample of their instructions is embedded with the default embedder. Each method is fitted on ``--fit`` points and
then places ``--held`` points it never saw (the way later rounds' items land on the stored map): PCA by its
projection, openTSNE by ``TSNEEmbedding.transform``, UMAP by ``transform``. Printed per method: trustworthiness at
k=10 (sklearn; 1 = every 2D neighbourhood is a true one) on the fitted points and on the placed ones, the share of
200 x 200 cells the fitted points occupy, and seconds to fit and to place. Ratios are against PCA measured in the
same run.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings  # noqa: E402
from state.conversations import pages  # noqa: E402
from state.db import Store  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedder import Embedder  # noqa: E402
from tools.importer import Importer, resolve_pool  # noqa: E402
from tools.instructions import instruction_text  # noqa: E402
from tools.projection import Projection  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POOLS = ("builtin:sharegpt", "builtin:alpaca-en", "builtin:alpaca-zh")


def pool_instructions(assets: AssetStore, scratch: Path) -> list[str]:
    store = Store(f"sqlite:///{scratch / 'pool.sqlite'}")
    importer = Importer(store, scratch / "reports")
    for spec in POOLS:
        path, source = resolve_pool(spec, assets)
        importer.ingest_file(path, source or path.stem)
    return [instruction_text(c.messages) for rows in pages(store) for c in rows]


def cells_share(xy: np.ndarray, grid: int = 200) -> float:
    lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    g = np.clip(((xy - lo) / np.maximum(hi - lo, 1e-12) * grid).astype(int), 0, grid - 1)
    return len({(a, b) for a, b in g}) / grid ** 2


def run_pca(fit: np.ndarray, held: np.ndarray, seed: int):
    t = time.perf_counter()
    proj = Projection.fit(fit, "bench")
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    placed = proj.transform(held)
    return proj.transform(fit), placed, t_fit, time.perf_counter() - t


def run_tsne(fit: np.ndarray, held: np.ndarray, seed: int):
    from openTSNE import TSNE

    t = time.perf_counter()
    emb = TSNE(n_components=2, perplexity=30, metric="cosine", n_jobs=2, random_state=seed).fit(fit)
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    placed = np.asarray(emb.transform(held))
    return np.asarray(emb), placed, t_fit, time.perf_counter() - t


def run_umap(fit: np.ndarray, held: np.ndarray, seed: int):
    import umap

    t = time.perf_counter()
    model = umap.UMAP(n_components=2, n_neighbors=15, metric="cosine", random_state=seed).fit(fit)
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    placed = model.transform(held)
    return model.embedding_, placed, t_fit, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", type=int, default=4000)
    ap.add_argument("--held", type=int, default=1000)
    ap.add_argument("--model", default=EmbeddingSettings().model)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--assets", default=str(ROOT / ".iloop-assets"))
    args = ap.parse_args()
    from sklearn.manifold import trustworthiness

    assets = AssetStore(Path(args.assets))
    with tempfile.TemporaryDirectory() as tmp:
        texts = pool_instructions(assets, Path(tmp))
    rng = random.Random(args.seed)
    sample = rng.sample(texts, min(len(texts), args.fit + args.held))
    t = time.perf_counter()
    vecs = Embedder(EmbeddingSettings(model=args.model), assets).encode(sample).astype(np.float64)
    print(f"{len(texts)} pool instructions; embedded {len(sample)} with {args.model} in "
          f"{time.perf_counter() - t:.0f} s")
    fit, held = vecs[:args.fit], vecs[args.fit:]
    rows = []
    for name, fn in (("pca", run_pca), ("opentsne", run_tsne), ("umap", run_umap)):
        try:
            xy_fit, xy_held, t_fit, t_place = fn(fit, held, args.seed)
        except ImportError as exc:  # umap-learn (numba, llvmlite) is not a dependency: pip install it to compare
            print(f"{name}: skipped ({exc})")
            continue
        rows.append((name, trustworthiness(fit, xy_fit, n_neighbors=10, metric="cosine"),
                     trustworthiness(held, xy_held, n_neighbors=10, metric="cosine"), cells_share(xy_fit),
                     t_fit, t_place))
        print(f"{name}: done", flush=True)
    base = rows[0]
    print(f"\n{'map':10} {'trust@10 fit':>13} {'trust@10 placed':>16} {'cells':>7} {'fit s':>7} {'place s':>8} "
          f"{'x PCA trust':>12} {'x PCA fit time':>15}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:13.3f} {r[2]:16.3f} {r[3]:7.3f} {r[4]:7.1f} {r[5]:8.2f} {r[2] / base[2]:12.2f} "
              f"{r[4] / max(base[4], 1e-6):15.0f}")


if __name__ == "__main__":
    main()
