"""The home's fixed 2D semantic map (t-SNE by default, PCA as the option): fitted once on a seeded sample, then
every point is placed on it once and its place cached in SQL (state/map_points.py), so ILA's grid, the measure
step and the report see the same plane in every round, and no point is placed twice."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from state import map_points
from state.conversations import content_hashes
from state.db import Store
from state.vectors import VectorStore
from tools.projection import Projection, ProjectionError, projection_path
from tools.tsne_map import TsneMap, tsne_path

logger = logging.getLogger(__name__)
PLACE_BATCH = 2000


def sample_vectors(vectors: VectorStore, collection: str, sample: int, seed: int, page: int = 50_000
                   ) -> tuple[list[str], np.ndarray]:
    """A seeded uniform sample of up to ``sample`` stored vectors, so every source is represented by its share:
    Chroma returns vectors in insertion order, and a plain ``limit`` would fit the plane on the first pool ingested.
    Positions are drawn first and ids read a page at a time, so memory stays at the sample's size."""
    col = vectors.collection(collection)
    n = col.count()
    pick = np.arange(n) if n <= sample else np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    ids: list[str] = []
    for start in range(0, n, page):
        want = pick[(pick >= start) & (pick < start + page)] - start
        if len(want):
            got = col.get(include=[], limit=page, offset=start)["ids"]
            ids += [got[k] for k in want if k < len(got)]
    found = vectors.get_vectors(collection, ids)
    ids = [i for i in ids if i in found]
    return ids, (np.stack([found[i] for i in ids]) if ids else np.zeros((0, 0), dtype=np.float32))


def home_map_kind(home: Path) -> str | None:
    """The kind of map this home was fitted with ('tsne' first when both exist), None before any."""
    return "tsne" if tsne_path(home).exists() else "pca" if projection_path(home).exists() else None


def ensure_map(vectors: VectorStore, collection: str, home: Path, model: str, selection, seed: int = 0,
               store: Store | None = None):
    """The stored map of ``selection.map_method`` (unset: the home's own, else t-SNE), or one fitted now on a seeded
    sample and saved. With ``store``,
    a fresh t-SNE map's fitted points are cached as placed (their fitted positions are their places)."""
    method = selection.map_method or home_map_kind(home) or "tsne"
    path = tsne_path(home) if method == "tsne" else projection_path(home)
    if path.exists():
        m = TsneMap.load(path) if method == "tsne" else Projection.load(path)
        if m.model != model:
            raise ProjectionError(f"{path} was fitted on {m.model} embeddings but embedding.model is {model}; move "
                                  f"the file away to fit a new map (the cells of earlier rounds will not be "
                                  f"comparable)")
        return m
    sample = selection.map_sample if method == "tsne" else selection.projection_sample
    got, vecs = sample_vectors(vectors, collection, sample, seed)
    if len(got) < 5:
        raise ProjectionError(f"only {len(got)} embedded instructions: run the embed node (iloop run) first")
    logger.info("fitting the %s map on %d instructions (once for this home)", method, len(got))
    m = TsneMap.fit(vecs, model, seed) if method == "tsne" else Projection.fit(vecs.astype(np.float32), model)
    # the id names what was fitted, not when: a fit repeated after a crash on the same sample is the same map
    m.fingerprint = hashlib.sha256(f"{method}:{seed}:{','.join(sorted(got))}".encode()).hexdigest()[:16]
    if store is not None and method == "tsne":  # cached before the map is saved: a crash between fits anew
        map_points.add(store, m.map_id, got, np.asarray(m.embedding))
    m.save(path)
    logger.info("fitted the %s map on %d instructions (saved to %s)", method, m.fitted_on, path)
    return m


def place(store: Store, vectors: VectorStore, collection: str, m, hashes: list[str]) -> np.ndarray:
    """(n, 2) places of the given content hashes; NaN rows where no vector is stored. Each point is placed once."""
    from tqdm import tqdm

    cached = map_points.known(store, m.map_id, hashes)
    todo = list(dict.fromkeys(h for h in hashes if h not in cached))
    with tqdm(total=len(todo), desc="map", unit="point", mininterval=2, leave=False, disable=len(todo) < 500) as bar:
        for k in range(0, len(todo), PLACE_BATCH):
            part = todo[k:k + PLACE_BATCH]
            vecs = vectors.get_vectors(collection, part)
            have = [h for h in part if h in vecs]
            if have:
                xy = m.transform(np.stack([vecs[h] for h in have]))
                map_points.add(store, m.map_id, have, xy)
                cached.update({h: (float(p[0]), float(p[1])) for h, p in zip(have, xy)})
            bar.update(len(part))
    return np.array([cached.get(h, (np.nan, np.nan)) for h in hashes], dtype=np.float64).reshape(len(hashes), 2)


def place_ids(store: Store, vectors: VectorStore, collection: str, m, ids: list[int]) -> np.ndarray:
    hashes = content_hashes(store, ids)
    return place(store, vectors, collection, m, [hashes.get(i, "") for i in ids])


def cells_of(store: Store, vectors: VectorStore, collection: str, m, ids: list[int], grid: int) -> np.ndarray:
    """Grid cell of each conversation on the map; -1 where it has no stored vector."""
    xy = place_ids(store, vectors, collection, m, ids)
    cells = np.full(len(ids), -1, dtype=np.int64)
    ok = ~np.isnan(xy[:, 0])
    if ok.any():
        cells[ok] = m.cells(xy[ok], grid)
    return cells
