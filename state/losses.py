"""Cached losses: one row per (scoring model key, content hash, kind), so no forward pass is paid for twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from state.db import Store, group_counts
from state.models import LossScore, utcnow

KINDS = ("cond", "resp")  # response given query | response alone (the IFD denominator)


@dataclass
class LossResult:
    loss: float | None  # None: no response token inside the window
    n_tokens: int
    truncated: bool


def cached_losses(store: Store, key: str, hashes: Iterable[str], kind: str) -> dict[str, LossResult]:
    t, out, hashes = LossScore.__table__, {}, list(hashes)
    with store.engine.connect() as conn:
        for k in range(0, len(hashes), 900):
            q = sa.select(t.c.content_hash, t.c.loss, t.c.n_tokens, t.c.truncated).where(
                t.c.model_key == key, t.c.kind == kind, t.c.content_hash.in_(hashes[k:k + 900]))
            out.update({h: LossResult(loss, n, bool(tr)) for h, loss, n, tr in conn.execute(q)})
    return out


def save_losses(store: Store, key: str, kind: str, results: dict[str, LossResult]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown loss kind {kind!r}; expected one of {KINDS}")
    rows = [dict(model_key=key, content_hash=h, kind=kind, loss=r.loss, n_tokens=r.n_tokens, truncated=r.truncated,
                 created_at=utcnow()) for h, r in results.items()]
    store.insert_ignore(LossScore.__table__, rows, ["model_key", "content_hash", "kind"])


def losses_of_model(store: Store, key: str, kind: str = "cond") -> list[float]:
    """Every stored (non-empty) loss of one scorer."""
    t = LossScore.__table__
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(t.c.loss).where(t.c.model_key == key, t.c.kind == kind,
                                                           t.c.loss.is_not(None))).scalars())


def counts_by_model(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return group_counts(conn, LossScore.__table__.c.model_key)


def scored_since(store: Store, key: str, since, kind: str = "cond") -> int:
    """Losses of one scorer cached at or after ``since`` (a round's start): what the round scored, however many
    processes it took."""
    t = LossScore.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.model_key == key, t.c.kind == kind, t.c.created_at >= since)).scalar() or 0
