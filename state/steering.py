"""Steering priorities: what the console's user or the coverage analyst asks later nodes to favour, and the
settings a person steers while a run goes on (kind ``setting``, settings/steerable.py).

One set of kinds for every writer and reader. A user's row for a key wins over the analyst's, and the analyst
never overwrites a key a user set. Every change a person makes is also a decision (node console, action steer:
who, when, the old and new value), written in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from settings import ALL_CRITERIA, OPERATIONS
from settings import IloopConfig
from settings.steerable import STEERABLE_SETTINGS, with_settings
from state.db import Store
from state.decisions import Action, DecisionRow, Node, record
from state.models import Round, SteeringPriority, utcnow

STEERING_KINDS = ("domain", "tag", "criterion", "operation", "setting")
WEIGHT_KINDS = STEERING_KINDS[:4]
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
    if kind == "setting" and key not in STEERABLE_SETTINGS:
        raise ValueError(f"setting {key!r} cannot be steered; expected one of {', '.join(STEERABLE_SETTINGS)}")


def _last_round(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(Round.__table__.c.number))).scalar() or 0


def _user_value(conn: sa.Connection, kind: str, key: str) -> float | None:
    t = SteeringPriority.__table__
    return conn.execute(sa.select(t.c.weight).where(t.c.kind == kind, t.c.key == key, t.c.set_by == USER)).scalar()


def _steer_decision(conn, kind: str, key: str, old, new, who: str, note: str) -> DecisionRow:
    what = f"{kind}:{key} {old if old is not None else 'unset'} -> {new if new is not None else 'reset'}"
    return DecisionRow(_last_round(conn), Node.CONSOLE, f"steering:{kind}:{key}", Action.STEER,
                       f"{what} by {who}" + (f" ({note})" if note else ""),
                       {"kind": kind, "key": key, "old": old, "new": new, "who": who, "note": note})


def set_user_priority(store: Store, kind: str, key: str, weight: float, note: str = "", who: str = USER) -> None:
    """A person's weight (or steered setting value) for a key, with its decision. Weights must be >= 0."""
    check_priority(kind, key)
    if kind != "setting" and not float(weight) >= 0:
        raise ValueError(f"a steering weight must be >= 0, got {weight}")
    if kind == "setting":  # the run would refuse it at its next round's start: refuse it here instead
        with_settings(IloopConfig(), {key: weight})
    t = SteeringPriority.__table__
    stmt = store.insert(t).values(kind=kind, key=key[:200], weight=float(weight), set_by=USER, round=0, note=note,
                                  updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(index_elements=["kind", "key"], set_={
        "weight": stmt.excluded.weight, "note": stmt.excluded.note, "set_by": USER,
        "updated_at": stmt.excluded.updated_at})
    with store.engine.begin() as conn:
        old = _user_value(conn, kind, key[:200])
        conn.execute(stmt)
        record(store, [_steer_decision(conn, kind, key[:200], old, float(weight), who, note)], conn)


def reset_user_priority(store: Store, kind: str, key: str, who: str = USER) -> bool:
    """Remove a person's row for a key (the analyst's next round may set it again); False when there was none."""
    t = SteeringPriority.__table__
    with store.engine.begin() as conn:
        old = _user_value(conn, kind, key)
        if old is None:
            return False
        conn.execute(sa.delete(t).where(t.c.kind == kind, t.c.key == key, t.c.set_by == USER))
        record(store, [_steer_decision(conn, kind, key, old, None, who, "")], conn)
    return True


def setting_values(store: Store) -> dict[str, float]:
    """The settings a person steered: dotted key -> value (what begin_round hands the round)."""
    t = SteeringPriority.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.key, t.c.weight).where(t.c.kind == "setting", t.c.set_by == USER)).all()
    return {k: float(v) for k, v in rows}


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
    """kind -> key -> weight, every weight kind present; a user's weight wins over the analyst's."""
    t = SteeringPriority.__table__
    out: dict[str, dict[str, float]] = {k: {} for k in WEIGHT_KINDS}
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
