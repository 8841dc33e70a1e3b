"""Builds the seed selector's arrays from SQL (tags, domains, cached losses, seeds) and Chroma (grid cells).

A conversation's skill tags are its canonical English tags (the tagger gives every conversation both languages;
English is what the embedder normalised), or all its canonical tags when it has no English one. A tag's frequency
is the number of conversations carrying it.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import sqlalchemy as sa

from state.models import Seed, SteeringPriority, Tag
from state.taxonomy import canonical_tags_of
from tools.scoring import cached_losses, content_hashes
from tools.seeds import SeedFrame, Steering
from tools.taxonomy import primary_domains


def skill_tags(store) -> tuple[dict[int, list[int]], dict[int, tuple[str, str]]]:
    """conversation id -> sorted skill tag ids; tag id -> (name, lang)."""
    t = Tag.__table__
    with store.engine.connect() as conn:
        info = {i: (n, lang) for i, n, lang in conn.execute(sa.select(t.c.id, t.c.name, t.c.lang))}
    out = {}
    for cid, tags in canonical_tags_of(store).items():
        en = [x for x in tags if info.get(x, ("", ""))[1] == "en"]
        out[cid] = sorted(en or tags)
    return out, info


def seed_ids(store) -> set[int]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(Seed.__table__.c.conversation_id)).scalars())


def load_steering(store) -> Steering:
    s, t = Steering(), SteeringPriority.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.kind, t.c.key, t.c.weight, t.c.set_by)).all()
    # A user's weight for a key wins over the analyst's (the analyst never writes a key the user set).
    for kind, key, weight, _ in sorted(rows, key=lambda r: r.set_by == "user"):
        target = {"domain": s.domain, "tag": s.tag, "criterion": s.criterion, "operation": s.operation}.get(kind)
        if target is not None:
            target[key] = float(weight)
    return s


def _losses(store, key: str | None, hashes: list[str], kind: str) -> np.ndarray | None:
    if key is None:
        return None
    found = cached_losses(store, key, hashes, kind)
    return np.array([found[h].loss if h in found and found[h].loss is not None else np.nan for h in hashes])


def build_frame(store, base_key: str, ft_key: str | None = None, resp_key: str | None = None) -> SeedFrame:
    tags_of, info = skill_tags(store)
    ids = sorted(tags_of)
    freq = Counter(t for tags in tags_of.values() for t in tags)
    tag_list = sorted(freq)
    pos = {t: k for k, t in enumerate(tag_list)}
    lengths = np.array([len(tags_of[i]) for i in ids], dtype=np.int64)
    ptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    idx = np.array([pos[t] for i in ids for t in tags_of[i]], dtype=np.int64)
    dom_of = primary_domains(store, ids)
    dom_names = sorted(set(dom_of.values()))
    dpos = {d: k for k, d in enumerate(dom_names)}
    hashes_by_id = content_hashes(store, ids)
    hashes = [hashes_by_id[i] for i in ids]
    base = _losses(store, base_key, hashes, "cond")
    ft = _losses(store, ft_key, hashes, "cond")
    resp = _losses(store, resp_key, hashes, "resp")
    ifd = None
    if resp is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ifd = np.where(resp > 0, base / resp, np.nan)
    taken = seed_ids(store)
    return SeedFrame(ids=np.array(ids, dtype=np.int64), base_loss=base, tag_ptr=ptr, tag_idx=idx,
                     tag_freq=np.array([freq[t] for t in tag_list], dtype=np.int64),
                     tag_names=[info[t][0] for t in tag_list],
                     domain=np.array([dpos.get(dom_of.get(i), -1) for i in ids], dtype=np.int64),
                     domain_names=dom_names, ft_loss=ft, ifd=ifd,
                     exclude=np.array([i in taken for i in ids], dtype=bool))


def grid_cells(res, frame: SeedFrame, grid: int, sample: int, log=print) -> tuple[np.ndarray, dict]:
    """ILA cell of every row in the stored projection (fitted now, once, if none exists yet)."""
    from agents.embed import conversation_collection
    from tools.projection import Projection, ProjectionError, projection_path

    name, path = conversation_collection(res), projection_path(res.config.home)
    if path.exists():
        proj = Projection.load(path)
        if proj.model != res.config.embedding.model:
            raise ProjectionError(f"{path} was fitted on {proj.model} embeddings but embedding.model is "
                                  f"{res.config.embedding.model}; move the file away to fit a new plane (the "
                                  f"cells of earlier rounds will not be comparable)")
    else:
        col = res.vectors.collection(name)
        got = col.get(include=["embeddings"], limit=sample)
        if len(got["ids"]) < 3:
            raise ProjectionError("fewer than 3 embedded instructions: run the embed node (iloop run) first")
        proj = Projection.fit(np.asarray(got["embeddings"], dtype=np.float32), res.config.embedding.model)
        proj.save(path)
        log(f"fitted the 2D projection on {proj.fitted_on} instructions (saved to {path})")
    hashes = content_hashes(res.store, frame.ids.tolist())
    vecs = res.vectors.get_vectors(name, [hashes[int(i)] for i in frame.ids])
    cells = np.full(len(frame.ids), -1, dtype=np.int64)
    have = [k for k, i in enumerate(frame.ids) if hashes[int(i)] in vecs]
    if have:
        xy = proj.transform(np.stack([vecs[hashes[int(frame.ids[k])]] for k in have]))
        cells[have] = proj.cells(xy, grid)
    return cells, {"fitted_on": proj.fitted_on, "explained": proj.explained, "grid": grid}
