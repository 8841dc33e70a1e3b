"""Leaks: removed items with the benchmark prompt they matched, and which conversations were checked against
which benchmark set (so each is checked once per set)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from state.db import Store, group_counts
from state.models import Leak, LeakCheck, utcnow


@dataclass
class LeakRow:
    round: int
    origin: str
    source: str
    content_hash: str
    messages: str  # the item's messages as stored (JSON), kept whole so it can be restored by hand
    turn: int
    benchmark: str
    bench_ref: str
    bench_text: str
    similarity: float
    ngram: float
    llm_verdict: str
    method: str
    conversation_id: int | None = None
    candidate_id: int | None = None


def add_leaks(store: Store, rows: list[LeakRow], conn: sa.Connection | None = None) -> None:
    """Store leak rows (in the caller's transaction when ``conn`` is given)."""
    if rows and conn is None:
        with store.engine.begin() as own:
            return add_leaks(store, rows, own)
    if rows:
        conn.execute(sa.insert(Leak.__table__), [asdict(r) | {"created_at": utcnow()} for r in rows])


def recorded(store: Store, round_: int, conversation_ids: list[int], candidate_ids: list[int]) -> tuple[set, set]:
    """(conversation ids, candidate ids) among those given that already have a leak row in this round: a check
    re-run after a crash finds them again and must not record them twice."""
    lk = Leak.__table__
    with store.engine.connect() as conn:
        conv = set(conn.execute(sa.select(lk.c.conversation_id).where(
            lk.c.round == round_, lk.c.conversation_id.in_(conversation_ids))).scalars()) if conversation_ids else set()
        cand = set(conn.execute(sa.select(lk.c.candidate_id).where(
            lk.c.round == round_, lk.c.candidate_id.in_(candidate_ids))).scalars()) if candidate_ids else set()
    return conv, cand


def round_pool_figures(store: Store, round_: int) -> dict[str, int]:
    """The round's pool check as the store has it: conversations marked checked in it, pool items removed in it."""
    lk, lc = Leak.__table__, LeakCheck.__table__
    with store.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(lc).where(lc.c.round == round_)).scalar() or 0
        removed = conn.execute(sa.select(sa.func.count()).select_from(lk).where(
            lk.c.round == round_, lk.c.conversation_id.is_not(None))).scalar() or 0
    return {"checked": kept + removed, "removed": removed}


def mark_checked(store: Store, conversation_ids: list[int], bench_fp: str, round_: int) -> None:
    if conversation_ids:
        stmt = store.insert(LeakCheck.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["conversation_id"],
                                          set_={"bench_fp": stmt.excluded.bench_fp, "round": stmt.excluded.round})
        with store.engine.begin() as conn:
            conn.execute(stmt, [dict(conversation_id=i, bench_fp=bench_fp, round=round_) for i in conversation_ids])


def not_checked_against(bench_fp: str):
    """A condition on conversations.id for ``state.conversations.pages``: not yet checked against this set."""
    from state.models import Conversation

    lc = LeakCheck.__table__
    return Conversation.__table__.c.id.not_in(sa.select(lc.c.conversation_id).where(lc.c.bench_fp == bench_fp))


def figures(store: Store) -> dict[str, Any]:
    """Removed items by benchmark, method and origin; how many stored conversations were checked."""
    lk, lc = Leak.__table__, LeakCheck.__table__
    with store.engine.connect() as conn:
        return {"removed": conn.execute(sa.select(sa.func.count()).select_from(lk)).scalar() or 0,
                "by_benchmark": group_counts(conn, lk.c.benchmark),
                "by_method": group_counts(conn, lk.c.method),
                "by_origin": group_counts(conn, lk.c.origin),
                "checked": conn.execute(sa.select(sa.func.count()).select_from(lc)).scalar() or 0,
                "bench_sets": conn.execute(sa.select(sa.func.count(sa.distinct(lc.c.bench_fp)))).scalar() or 0}


def recent(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    lk = Leak.__table__
    q = sa.select(lk.c.round, lk.c.origin, lk.c.benchmark, lk.c.bench_ref, lk.c.method, lk.c.similarity, lk.c.ngram,
                  lk.c.bench_text).order_by(lk.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def removed_in_round(store: Store, round_: int) -> int:
    """Items removed as benchmark leaks in one round (pool conversations and refused candidates)."""
    lk = Leak.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(lk).where(lk.c.round == round_)).scalar() or 0
