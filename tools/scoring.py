"""Scoring conversations from the store with the SQL cache in front of the scorer.

The cache key is (scorer key, content hash, kind): a duplicate conversation, a re-ingested file or a second run
never pays for the same forward pass twice. Results are written after every chunk, so an interrupted run keeps
what it scored.
"""
from __future__ import annotations

import json
from typing import Iterable

import sqlalchemy as sa

from state.models import Conversation, LossScore, utcnow
from tools.loss_scorer import LossResult, LossScorer

KINDS = ("cond", "resp")


def cached_losses(store, key: str, hashes: Iterable[str], kind: str) -> dict[str, LossResult]:
    t, out, hashes = LossScore.__table__, {}, list(hashes)
    with store.engine.connect() as conn:
        for k in range(0, len(hashes), 900):
            q = sa.select(t.c.content_hash, t.c.loss, t.c.n_tokens, t.c.truncated).where(
                t.c.model_key == key, t.c.kind == kind, t.c.content_hash.in_(hashes[k:k + 900]))
            out.update({h: LossResult(loss, n, bool(tr)) for h, loss, n, tr in conn.execute(q)})
    return out


def save_losses(store, key: str, kind: str, results: dict[str, LossResult]) -> None:
    rows = [dict(model_key=key, content_hash=h, kind=kind, loss=r.loss, n_tokens=r.n_tokens, truncated=r.truncated,
                 created_at=utcnow()) for h, r in results.items()]
    store.insert_ignore(LossScore.__table__, rows, ["model_key", "content_hash", "kind"])


def _by_ids(store, columns, ids: list[int]):
    """Rows of the conversations table for ``ids``, queried in chunks under SQLite's parameter limit."""
    t = Conversation.__table__
    with store.engine.connect() as conn:
        for k in range(0, len(ids), 900):
            yield from conn.execute(sa.select(t.c.id, *[t.c[c] for c in columns]).where(t.c.id.in_(ids[k:k + 900])))


def load_messages(store, ids: list[int]) -> dict[int, tuple[str, list[dict]]]:
    """conversation id -> (content hash, messages)."""
    return {i: (h, json.loads(m)) for i, h, m in _by_ids(store, ["content_hash", "messages"], ids)}


def content_hashes(store, ids: list[int]) -> dict[int, str]:
    return dict(_by_ids(store, ["content_hash"], ids))


def all_conversation_ids(store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(Conversation.__table__.c.id).order_by(Conversation.__table__.c.id))
                    .scalars())


def score_conversations(store, scorer: LossScorer, ids: list[int], kinds: Iterable[str] = ("cond",),
                        chunk: int = 256, show_progress: bool = True) -> dict[str, dict[int, LossResult]]:
    """kind -> conversation id -> LossResult for every id, scoring only what the cache lacks."""
    from tqdm import tqdm

    convs = load_messages(store, ids)
    missing = sorted(set(ids) - set(convs))
    if missing:
        raise KeyError(f"conversations not in the store: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    out: dict[str, dict[int, LossResult]] = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown loss kind {kind!r}; expected one of {KINDS}")
        by_hash: dict[str, list[dict]] = {h: m for h, m in convs.values()}
        have = cached_losses(store, scorer.key, by_hash, kind)
        todo = [h for h in by_hash if h not in have]
        if todo:
            encoded = dict(zip(todo, scorer.encode([by_hash[h] for h in todo], kind)))
            total = sum(len(e.ids) for e in encoded.values())
            with tqdm(total=total, desc=f"loss/{kind}", unit="tok", unit_scale=True, disable=not show_progress,
                      mininterval=2) as bar:
                for k in range(0, len(todo), chunk):
                    part = todo[k:k + chunk]
                    results = dict(zip(part, scorer.losses([encoded[h] for h in part], progress=bar.update)))
                    save_losses(store, scorer.key, kind, results)
                    have.update(results)
        out[kind] = {i: have[h] for i, (h, _) in convs.items()}
    return out


def ifd(cond: LossResult, resp: LossResult) -> float | None:
    """IFD = loss(response | query) / loss(response); None when either is missing."""
    if cond.loss is None or resp.loss is None or resp.loss <= 0:
        return None
    return cond.loss / resp.loss
