"""Steering priorities: what the console's user or the coverage analyst asks later nodes to favour.

One set of kinds for every writer and reader. A user's row for a key wins over the analyst's, and the analyst
never overwrites a key a user set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from settings import ALL_CRITERIA, OPERATIONS
from state.db import Store
from state.models import SteeringPriority, utcnow

STEERING_KINDS = ("domain", "tag", "criterion", "operation")
USER, ANALYST = "user", "coverage_analyst"


@dataclass
class Priority:
    kind: str
    key: str
    weight: float
    reason: str = ""


def check_priority(kind: str, key: str) -> None:
    """A misspelt kind or criterion/operation key would silently steer nothing: refuse it."""
    if kind not in STEERING_KINDS:
        raise ValueError(f"unknown steering kind {kind!r}; expected one of {', '.join(STEERING_KINDS)}")
    if kind == "criterion" and key not in ALL_CRITERIA:
        raise ValueError(f"unknown criterion {key!r}; expected one of {', '.join(ALL_CRITERIA)}")
    if kind == "operation" and key not in OPERATIONS:
        raise ValueError(f"unknown operation {key!r}; expected one of {', '.join(OPERATIONS)}")


def set_user_priority(store: Store, kind: str, key: str, weight: float, note: str = "") -> None:
    check_priority(kind, key)
    t = SteeringPriority.__table__
    stmt = store.insert(t).values(kind=kind, key=key[:200], weight=float(weight), set_by=USER, round=0, note=note,
                                  updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(index_elements=["kind", "key"], set_={
        "weight": stmt.excluded.weight, "note": stmt.excluded.note, "set_by": USER,
        "updated_at": stmt.excluded.updated_at})
    with store.engine.begin() as conn:
        conn.execute(stmt)


def replace_analyst_priorities(store: Store, priorities: list[Priority], round_: int) -> int:
    """Drop the analyst's previous rows and write these, skipping keys a user set; returns rows written."""
    t = SteeringPriority.__table__
    with store.engine.begin() as conn:
        user_keys = set(conn.execute(sa.select(t.c.kind, t.c.key).where(t.c.set_by == USER)).all())
        conn.execute(sa.delete(t).where(t.c.set_by == ANALYST))
        seen, rows = set(user_keys), []
        for p in priorities:
            check_priority(p.kind, p.key)
            if (p.kind, p.key[:200]) in seen:
                continue
            seen.add((p.kind, p.key[:200]))
            rows.append(dict(kind=p.kind, key=p.key[:200], weight=p.weight, set_by=ANALYST, round=round_,
                             note=p.reason, updated_at=utcnow()))
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(rows)


def weights(store: Store) -> dict[str, dict[str, float]]:
    """kind -> key -> weight, every kind present; a user's weight wins over the analyst's."""
    t = SteeringPriority.__table__
    out: dict[str, dict[str, float]] = {k: {} for k in STEERING_KINDS}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.kind, t.c.key, t.c.weight, t.c.set_by)).all()
    for kind, key, weight, _ in sorted(rows, key=lambda r: r.set_by == USER):
        if kind in out:
            out[kind][key] = float(weight)
    return out


def all_priorities(store: Store) -> list[dict[str, Any]]:
    t = SteeringPriority.__table__
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.kind, t.c.key)).mappings()]


def count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(SteeringPriority.__table__)).scalar() or 0
