"""Candidates: generated conversations staged for the leakage guard, admitted ones pointing at their conversation."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from state.db import Store, check_statuses, group_counts, update_by_id
from state.models import Candidate, utcnow

STATUSES = ("pending", "admitted", "leak", "duplicate")


@dataclass
class NewCandidate:
    round: int
    kind: str  # evolved | synthesized
    parent_id: int | None
    operation: str
    messages: list[dict[str, str]]
    content_hash: str
    lang: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class StagedCandidate:
    id: int
    kind: str
    parent_id: int | None
    operation: str
    messages: list[dict[str, str]]
    content_hash: str
    lang: str


def stage(store: Store, items: list[NewCandidate], conn: sa.Connection | None = None) -> list[int]:
    """Store candidates; returns their ids in order. ``conn``: write inside the caller's transaction (the
    synthesizer stores a candidate and its synthesis row together)."""
    if not items:
        return []
    now = utcnow()
    t = Candidate.__table__
    rows = [dict(round=c.round, kind=c.kind, parent_id=c.parent_id, operation=c.operation,
                 messages=json.dumps(c.messages, ensure_ascii=False), content_hash=c.content_hash, lang=c.lang,
                 status="pending", evidence=json.dumps(c.evidence, ensure_ascii=False, default=str), created_at=now)
            for c in items]
    if conn is None:
        with store.engine.begin() as own:
            return stage(store, items, own)
    return [r[0] for r in conn.execute(sa.insert(t).returning(t.c.id, sort_by_parameter_order=True), rows)]


def pending(store: Store, kinds: tuple[str, ...] | None = None) -> list[StagedCandidate]:
    """Candidates not checked yet (of the given kinds, else all)."""
    t = Candidate.__table__
    q = sa.select(t).where(t.c.status == "pending").order_by(t.c.id)
    if kinds:
        q = q.where(t.c.kind.in_(kinds))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [StagedCandidate(r.id, r.kind, r.parent_id, r.operation, json.loads(r.messages), r.content_hash, r.lang)
            for r in rows]


def set_status(store: Store, updates: dict[int, tuple[str, int | None]]) -> None:
    """candidate id -> (status, conversation id it became or duplicates)."""
    check_statuses("candidate", (st for st, _ in updates.values()), STATUSES)
    update_by_id(store, Candidate.__table__, {cid: {"status": st, "conversation_id": conv}
                                              for cid, (st, conv) in updates.items()})


def round_outcomes(store: Store, round_: int, kinds: tuple[str, ...] | None = None) -> tuple[dict[str, int], list[int]]:
    """(candidates of the round by status, conversation ids of the admitted ones): what the round's checks did,
    read from the store, so a check re-run after a crash reports its first run's admissions too."""
    t = Candidate.__table__
    q = sa.select(t.c.status, t.c.conversation_id).where(t.c.round == round_).order_by(t.c.id)
    if kinds:
        q = q.where(t.c.kind.in_(kinds))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    by: dict[str, int] = {}
    for st, _ in rows:
        by[st] = by.get(st, 0) + 1
    return by, [c for st, c in rows if st == "admitted" and c is not None]


def figures(store: Store) -> dict[str, dict[str, int]]:
    t = Candidate.__table__
    with store.engine.connect() as conn:
        return {"by_status": group_counts(conn, t.c.status),
                "by_operation": group_counts(conn, t.c.operation)}
