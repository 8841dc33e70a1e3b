"""Builds the seed selector's arrays from SQL (tags, domains, cached losses, seeds) and Chroma (grid cells).

A conversation's skill tags are its canonical English tags (the tagger gives every conversation both languages;
English is what the embedder normalised), or all its canonical tags when it has no English one. A tag's frequency
is the number of conversations carrying it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from state import steering
from state.columns import TagColumns, canonical_links, losses_of, primary_domain_rows, tag_columns
from state.db import Store
from state.seeds import counts_by_criterion, seed_conversation_ids
from state.tags import tag_info
from state.vectors import VectorStore
from tools.semantic_map import cells_of, ensure_map
from tools.seeds import SeedFrame, Steering

logger = logging.getLogger(__name__)


def skill_tags(store: Store) -> tuple[dict[int, list[int]], dict[int, tuple[str, str]]]:
    """conversation id -> sorted skill tag ids; tag id -> (name, lang). (Python objects: for the measure step's
    samples and id lists; the selector reads the arrays, ``skill_rows``.)"""
    tags = tag_columns(store)
    cid, row = skill_rows(*canonical_links(store, tags), tags)
    out: dict[int, list[int]] = {}
    for c, t in zip(cid.tolist(), tags.ids[row].tolist()):
        out.setdefault(c, []).append(t)
    return out, tag_info(store)


def skill_tagged_ids(store: Store) -> list[int]:
    """Conversations with at least one skill tag, sorted (the selector's candidates), read column-wise."""
    tags = tag_columns(store)
    return np.unique(skill_rows(*canonical_links(store, tags), tags)[0]).tolist()


def load_steering(store: Store) -> Steering:
    w = steering.weights(store)
    return Steering(domain=w["domain"], tag=w["tag"], criterion=w["criterion"], operation=w["operation"])


def _losses(store: Store, key: str | None, ids: np.ndarray, kind: str) -> np.ndarray | None:
    """Each row's cached loss (NaN: none), by a join of the loss cache with the conversations."""
    if key is None:
        return None
    cid, loss = losses_of(store, key, kind)
    out = np.full(len(ids), np.nan)
    at = np.searchsorted(ids, cid)
    hit = at < len(ids)
    hit[hit] = ids[at[hit]] == cid[hit]
    out[at[hit]] = loss[hit]
    return out


def skill_rows(cid: np.ndarray, row: np.ndarray, tags: TagColumns) -> tuple[np.ndarray, np.ndarray]:
    """The skill links among canonical links sorted by conversation: a conversation's English canonical tags, or
    all its canonical tags when it has no English one."""
    if not len(cid):
        return cid, row
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
    en = tags.is_en[row]
    any_en = np.repeat(np.maximum.reduceat(en, starts), np.diff(np.r_[starts, len(cid)]))
    keep = en | ~any_en
    return cid[keep], row[keep]


def build_frame(store: Store, base_key: str, ft_key: str | None = None, resp_key: str | None = None,
                exclude: set[int] = frozenset()) -> SeedFrame:
    """The selector's arrays, built column-wise from SQL (1M conversations x 5 tags: bench/bench_selection_sql.py);
    ``exclude`` adds conversations that may not become seeds (beyond those that are)."""
    tags = tag_columns(store)
    all_cid, all_row = canonical_links(store, tags)
    cid, row = skill_rows(all_cid, all_row, tags)
    ids, per_row = np.unique(cid, return_counts=True)
    tag_rows, idx, freq = np.unique(row, return_inverse=True, return_counts=True)  # by tag id, as before
    conv, dom = primary_domain_rows(all_cid, all_row, tags)
    present = np.unique(dom)  # the frame names only domains some conversation has as its own
    domain = np.full(len(ids), -1, dtype=np.int64)
    at = np.searchsorted(ids, conv)
    ok = at < len(ids)
    ok[ok] = ids[at[ok]] == conv[ok]
    domain[at[ok]] = np.searchsorted(present, dom[ok])
    base = _losses(store, base_key, ids, "cond")
    ft = _losses(store, ft_key, ids, "cond")
    resp = _losses(store, resp_key, ids, "resp")
    ifd = None
    if resp is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ifd = np.where(resp > 0, base / resp, np.nan)
    taken = np.array(sorted(seed_conversation_ids(store) | set(exclude)), dtype=np.int64)
    return SeedFrame(ids=ids.astype(np.int64), base_loss=base, tag_ptr=np.r_[0, np.cumsum(per_row)].astype(np.int64),
                     tag_idx=idx.astype(np.int64), tag_freq=freq.astype(np.int64),
                     tag_names=[tags.names[r] for r in tag_rows],
                     domain=domain, domain_names=[tags.domain_names[d] for d in present], ft_loss=ft, ifd=ifd,
                     exclude=np.isin(ids, taken), held=counts_by_criterion(store))


def grid_cells(store: Store, vectors: VectorStore, collection: str, home: Path, model: str, frame: SeedFrame,
               selection, seed: int = 0) -> tuple[np.ndarray, dict]:
    """ILA cell of every row on the home's fixed map (tools/semantic_map.py; fitted now if none exists yet)."""
    m = ensure_map(vectors, collection, home, model, selection, seed, store)
    cells = cells_of(store, vectors, collection, m, [int(i) for i in frame.ids], selection.ila_grid)
    return cells, {"map": m.kind, "fitted_on": m.fitted_on, "explained": m.explained, "grid": selection.ila_grid}
