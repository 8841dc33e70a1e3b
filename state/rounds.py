"""Rounds: one row per round of the loop (or stage command), with its status and summary."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.models import Round, utcnow


def start_round(store: Store, thread_id: str) -> int:
    """Open the next round; returns its store-wide number."""
    t = Round.__table__
    with store.engine.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(t.c.number))).scalar() or 0
        conn.execute(sa.insert(t).values(number=last + 1, thread_id=thread_id, status="running",
                                         started_at=utcnow(), summary="{}"))
    return last + 1


def finish_round(store: Store, number: int, status: str, summary: dict[str, Any]) -> None:
    t = Round.__table__
    with store.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.number == number).values(
            status=status, finished_at=utcnow(), summary=json.dumps(summary, default=str)))


def last_thread_id(store: Store) -> str | None:
    t = Round.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.thread_id).order_by(t.c.number.desc()).limit(1)).scalar()


def all_rounds(store: Store) -> list[dict[str, Any]]:
    t = Round.__table__
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.number)).mappings()]
