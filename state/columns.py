"""Columnar reads for the seed selector and the domain shares: tag links, tags and cached losses as numpy arrays,
fetched from the driver's cursor a partition at a time, never as one Python object per link (a pool of 1M
conversations has ~5M links). SQLite hands rows over as they are fetched; psycopg's plain cursor holds the result
client-side, so on Postgres only the Python conversion is partitioned.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Domain, LossScore, Tag

_PART = 200_000


def _number_columns(store: Store, query, width: int) -> list[np.ndarray]:
    """The query's ``width`` numeric columns (no NULLs) as float64 arrays, read a partition at a time."""
    parts: list[np.ndarray] = []
    with store.engine.connect() as conn:
        # the driver's own cursor: SQLAlchemy's Row objects cost more than the fetch itself at 5M links
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.params
        if compiled.positional:
            params = tuple(params[k] for k in compiled.positiontup)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(str(compiled), params)
            while rows := cursor.fetchmany(_PART):
                flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=len(rows) * width)
                parts.append(flat.reshape(-1, width))
        finally:
            cursor.close()
    block = np.concatenate(parts) if parts else np.zeros((0, width))
    return [block[:, k] for k in range(width)]


def sorted_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, how often each occurs) by one sort: np.unique's hash path took 2.6 s on 3.7M
    int64 keys here, the sort 0.3 s."""
    a = np.sort(values, kind="stable")  # timsort: the links come nearly sorted (by conversation), so it runs fast
    if not len(a):
        return a, np.zeros(0, dtype=np.int64)
    start = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    return a[start], np.diff(np.r_[start, len(a)])


@dataclass
class TagColumns:
    """Every tag, by id: ``pos[tag id]`` is its row (-1: no such tag)."""
    ids: np.ndarray
    names: list[str]
    is_en: np.ndarray
    noise: np.ndarray
    domain: np.ndarray  # row into domain_names, -1 = none
    domain_names: list[str]  # sorted by name: a lower index is an earlier name
    pos: np.ndarray
    canonical: np.ndarray  # row of each tag's canonical tag (its own row when it is canonical)


def tag_columns(store: Store) -> TagColumns:
    t, d = Tag.__table__, Domain.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.name, t.c.lang, t.c.status, d.c.name, t.c.canonical_id).select_from(
            t.outerjoin(d, t.c.domain_id == d.c.id)).order_by(t.c.id)).all()
    names = sorted({r[4] for r in rows if r[4] is not None})
    dpos = {n: k for k, n in enumerate(names)}
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    pos = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
    pos[ids] = np.arange(len(ids))
    canonical = pos[np.array([r[5] if r[5] is not None else r[0] for r in rows], dtype=np.int64)] if rows else ids
    return TagColumns(ids, [r[1] for r in rows], np.array([r[2] == "en" for r in rows], dtype=bool),
                      np.array([r[3] == "noise" for r in rows], dtype=bool),
                      np.array([dpos.get(r[4], -1) for r in rows], dtype=np.int64), names, pos, canonical)


def canonical_links(store: Store, tags: TagColumns, conversation_ids: list[int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(conversation ids, canonical tag rows into ``tags``) of every link (or those of ``conversation_ids``),
    aliases resolved, noise left out, each pair once, sorted by conversation then tag."""
    ct = ConversationTag.__table__
    # the link table alone, aliases resolved here: the join in SQL cost as much as the fetch
    q = sa.select(ct.c.conversation_id, ct.c.tag_id)
    if conversation_ids is not None:
        q = q.where(ct.c.conversation_id.in_(conversation_ids))
    cid, tid = _number_columns(store, q, 2)
    cid, tid = cid.astype(np.int64), tid.astype(np.int64)
    # a tag inserted by a running tagger after ``tags`` was read is not in it: its links wait for the next read
    known = tid < len(tags.pos)
    known[known] = tags.pos[tid[known]] >= 0
    cid, row = cid[known], tags.canonical[tags.pos[tid[known]]]
    keep = ~tags.noise[row]
    cid, row = cid[keep], row[keep]
    pair, _ = sorted_unique(cid * (len(tags.ids) + 1) + row)  # by conversation, then tag; repeats dropped
    return pair // (len(tags.ids) + 1), pair % (len(tags.ids) + 1)


def primary_domain_rows(cid: np.ndarray, row: np.ndarray, tags: TagColumns) -> tuple[np.ndarray, np.ndarray]:
    """(conversation ids, domain rows): each conversation's most frequent domain among its canonical tags, ties
    to the earlier name; conversations with no tag in a domain are left out."""
    dom = tags.domain[row]
    has = dom >= 0
    if not has.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    width = len(tags.domain_names)
    keys, votes = sorted_unique(cid[has] * width + dom[has])
    conv, d = keys // width, keys % width
    order = np.lexsort((d, -votes, conv))  # per conversation: most votes first, then the earlier name
    conv, d = conv[order], d[order]
    first = np.r_[True, conv[1:] != conv[:-1]]
    return conv[first], d[first]


def losses_of(store: Store, key: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(conversation ids, loss) of every stored conversation with a cached loss of ``key`` and ``kind``; NaN where
    the scorer had nothing to score."""
    c, ls = Conversation.__table__, LossScore.__table__
    # a loss is a mean cross-entropy, never negative: -1 stands for NULL (nothing scored) on the way out of SQL
    q = sa.select(c.c.id, sa.func.coalesce(ls.c.loss, -1.0)).select_from(
        ls.join(c, c.c.content_hash == ls.c.content_hash)).where(ls.c.model_key == key, ls.c.kind == kind)
    cid, loss = _number_columns(store, q, 2)
    return cid.astype(np.int64), np.where(loss < 0, np.nan, loss)
