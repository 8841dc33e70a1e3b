"""Seeds: conversations the seed selector chose, and the one place a seed's status changes."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from state.db import Store, check_statuses, group_counts, update_by_id
from state.decisions import Action, DecisionRow, Node, record
from state.models import Conversation, Seed, utcnow

# held_out: a diagnosis item (state.diagnosis); dropped: a person removed it in review before evolution
STATUSES = ("selected", "evolved", "exhausted", "held_out", "dropped")


@dataclass
class NewSeed:
    conversation_id: int
    round: int
    strategy: str
    criteria: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)


def add_seeds(store: Store, seeds: list[NewSeed], conn: sa.Connection | None = None) -> None:
    """Store new seeds (a conversation is a seed once: a second selection is ignored); ``conn``: inside the
    caller's transaction (the selector writes seeds and their decisions together, so a crash leaves both or
    neither)."""
    if conn is None:
        with store.engine.begin() as own:
            return add_seeds(store, seeds, own)
    now = utcnow()
    rows = [dict(conversation_id=s.conversation_id, round=s.round, strategy=s.strategy,
                 criteria=json.dumps(s.criteria), evidence=json.dumps(s.evidence, default=str), status="selected",
                 attempts=0, created_at=now) for s in seeds]
    for k in range(0, len(rows), 20_000):
        if rows[k:k + 20_000]:
            conn.execute(store.insert(Seed.__table__).on_conflict_do_nothing(index_elements=["conversation_id"]),
                         rows[k:k + 20_000])


def seed_conversation_ids(store: Store) -> set[int]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(Seed.__table__.c.conversation_id)).scalars())


def counts_by_criterion(store: Store) -> dict[str, int]:
    """criterion -> seeds it holds, over every round (a seed chosen by two criteria counts under both): what a
    criterion's total quota is compared with."""
    by: Counter = Counter()
    with store.engine.connect() as conn:
        for crits in conn.execute(sa.select(Seed.__table__.c.criteria)).scalars():
            by.update(json.loads(crits))
    return dict(by)


def pending(store: Store, limit: int = 0, exclude: set[int] = frozenset()) -> list[tuple[int, int, int]]:
    """(seed id, conversation id, attempts) of seeds still waiting for evolution, oldest first; 0 = all.
    ``exclude``: conversation ids to leave out (those the round already tried)."""
    s = Seed.__table__
    q = sa.select(s.c.id, s.c.conversation_id, s.c.attempts).where(s.c.status == "selected").order_by(s.c.id)
    if exclude:
        q = q.where(s.c.conversation_id.not_in(sorted(exclude)))
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q.limit(limit) if limit else q)]


def seed_rows(store: Store) -> list[tuple[int, int, str, str, int]]:
    """(seed id, conversation id, first criterion, status, attempts) of every seed, oldest first."""
    t = Seed.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.conversation_id, t.c.criteria, t.c.status, t.c.attempts)
                            .order_by(t.c.id)).all()
    return [(sid, cid, (json.loads(crit) or [""])[0], status, n) for sid, cid, crit, status, n in rows]


def set_status(store: Store, updates: dict[int, tuple[str, int | None]], conn: sa.Connection | None = None) -> None:
    """seed id -> (status, attempts or None to keep them). The only writer of a seed's status."""
    check_statuses("seed", (st for st, _ in updates.values()), STATUSES)
    update_by_id(store, Seed.__table__, {sid: {"status": st, **({} if n is None else {"attempts": n})}
                                         for sid, (st, n) in updates.items()}, conn)


def figures(store: Store) -> dict[str, Any]:
    """Seeds by criterion (a seed chosen by two criteria counts under both), strategy, round and status."""
    t = Seed.__table__
    by_criterion: Counter = Counter()
    with store.engine.connect() as conn:
        for crits in conn.execute(sa.select(t.c.criteria)).scalars():
            by_criterion.update(json.loads(crits))
        return {"total": conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0,
                "by_criterion": dict(sorted(by_criterion.items())),
                "by_strategy": group_counts(conn, t.c.strategy),
                "by_round": group_counts(conn, t.c.round), "by_status": group_counts(conn, t.c.status)}


def recent_with_instructions(store: Store, limit: int = 500, round_: int | None = None,
                             status: str | None = None, oldest_first: bool = False) -> list[dict[str, Any]]:
    """The newest seeds (of one round, of one status) with their criteria, evidence and conversation (the
    console's seed tables); ``oldest_first``: the oldest instead, in the order the evolver takes them."""
    sd, c = Seed.__table__, Conversation.__table__
    q = (sa.select(sd.c.id.label("seed_id"), sd.c.round, sd.c.conversation_id, sd.c.status, sd.c.criteria,
                   sd.c.evidence, c.c.messages)
         .select_from(sd.join(c, c.c.id == sd.c.conversation_id))
         .order_by(sd.c.id if oldest_first else sd.c.id.desc()).limit(limit))
    if round_ is not None:
        q = q.where(sd.c.round == round_)
    if status is not None:
        q = q.where(sd.c.status == status)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def drop(store: Store, seed_ids: list[int], round_: int, who: str) -> int:
    """A person's review edit: these seeds (still waiting for evolution) are never evolved. Each is a decision,
    written with the status change; returns the seeds dropped."""
    t = Seed.__table__
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.conversation_id).where(
            t.c.id.in_(sorted(seed_ids)), t.c.status == "selected")).all()
        set_status(store, {sid: ("dropped", None) for sid, _ in rows}, conn)
        record(store, [DecisionRow(round_, Node.CONSOLE, f"conversation:{cid}", Action.DROP_SEED,
                                   f"seed {sid} dropped in review by {who}", {"seed_id": sid, "who": who})
                       for sid, cid in rows], conn)
    return len(rows)


def round_seed_count(store: Store, round_: int) -> int:
    """Seeds selected in one round (diagnosis items among them included)."""
    s = Seed.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.round == round_)).scalar() or 0
