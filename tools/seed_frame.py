"""Builds the seed selector's arrays from SQL (tags, domains, cached losses, seeds) and Chroma (grid cells).

A conversation's skill tags are its canonical English tags (the tagger gives every conversation both languages;
English is what the embedder normalised), or all its canonical tags when it has no English one. A tag's frequency
is the number of conversations carrying it.
"""
from __future__ import annotations

from collections import Counter

import logging
from pathlib import Path

import numpy as np

from state import steering
from state.conversations import content_hashes
from state.db import Store
from state.domains import primary_domains
from state.losses import cached_losses
from state.seeds import counts_by_criterion, seed_conversation_ids
from state.tags import canonical_tags_of, tag_info
from state.vectors import VectorStore
from tools.semantic_map import cells_of, ensure_map
from tools.seeds import SeedFrame, Steering

logger = logging.getLogger(__name__)


def skill_tags(store: Store) -> tuple[dict[int, list[int]], dict[int, tuple[str, str]]]:
    """conversation id -> sorted skill tag ids; tag id -> (name, lang)."""
    info = tag_info(store)
    out = {}
    for cid, tags in canonical_tags_of(store).items():
        en = [x for x in tags if info.get(x, ("", ""))[1] == "en"]
        out[cid] = sorted(en or tags)
    return out, info


def load_steering(store: Store) -> Steering:
    w = steering.weights(store)
    return Steering(domain=w["domain"], tag=w["tag"], criterion=w["criterion"], operation=w["operation"])


def _losses(store: Store, key: str | None, hashes: list[str], kind: str) -> np.ndarray | None:
    if key is None:
        return None
    found = cached_losses(store, key, hashes, kind)
    return np.array([found[h].loss if h in found and found[h].loss is not None else np.nan for h in hashes])


def build_frame(store: Store, base_key: str, ft_key: str | None = None, resp_key: str | None = None,
                exclude: set[int] = frozenset()) -> SeedFrame:
    """The selector's arrays; ``exclude`` adds conversations that may not become seeds (beyond those that are)."""
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
    taken = seed_conversation_ids(store) | set(exclude)
    return SeedFrame(ids=np.array(ids, dtype=np.int64), base_loss=base, tag_ptr=ptr, tag_idx=idx,
                     tag_freq=np.array([freq[t] for t in tag_list], dtype=np.int64),
                     tag_names=[info[t][0] for t in tag_list],
                     domain=np.array([dpos.get(dom_of.get(i), -1) for i in ids], dtype=np.int64),
                     domain_names=dom_names, ft_loss=ft, ifd=ifd,
                     exclude=np.array([i in taken for i in ids], dtype=bool), held=counts_by_criterion(store))


def grid_cells(store: Store, vectors: VectorStore, collection: str, home: Path, model: str, frame: SeedFrame,
               selection, seed: int = 0) -> tuple[np.ndarray, dict]:
    """ILA cell of every row on the home's fixed map (tools/semantic_map.py; fitted now if none exists yet)."""
    m = ensure_map(vectors, collection, home, model, selection, seed, store)
    cells = cells_of(store, vectors, collection, m, [int(i) for i in frame.ids], selection.ila_grid)
    return cells, {"map": m.kind, "fitted_on": m.fitted_on, "explained": m.explained, "grid": selection.ila_grid}
