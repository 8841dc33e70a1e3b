"""Rounds: one row per round of the loop (or stage command), with its status and summary.

A round is ``running`` from its start until ``finish_round``; a process killed in between leaves it so. Each
start therefore first closes the stale ones: a ``running`` round becomes ``interrupted`` (with a decision) unless
the process that opened it is still alive on this machine (a loop and a stage command may share a home). The
owner is kept in the summary until the round finishes, so no column is needed.
"""
from __future__ import annotations

import json
import os
import socket
from typing import Any

import sqlalchemy as sa

from state import decisions
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.models import Round, utcnow


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_alive(pid: int) -> bool:
    """True while a process of this pid exists on this host (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _still_owned(summary: str) -> bool:
    """True when the round's opener is another process that is still alive on this host."""
    try:
        owner = json.loads(summary or "{}")
    except ValueError:
        return False
    pid = owner.get("pid") if isinstance(owner, dict) else None
    if not isinstance(pid, int) or owner.get("host") != socket.gethostname() or pid == os.getpid():
        return False
    return process_alive(pid)


def interrupt_stale(store: Store, by_round: int) -> list[int]:
    """Mark every ``running`` round whose process is gone as ``interrupted``; a decision per round, recorded
    under ``by_round`` (the round being opened). Returns their numbers."""
    t = Round.__table__
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(t.c.number, t.c.thread_id, t.c.started_at, t.c.summary)
                            .where(t.c.status == "running", t.c.number != by_round)).all()
        stale = [r for r in rows if not _still_owned(r.summary)]
        for r in stale:
            conn.execute(sa.update(t).where(t.c.number == r.number, t.c.status == "running").values(
                status="interrupted", finished_at=utcnow(),
                summary=json.dumps({"interrupted": True, "owner": _json(r.summary)})))
    decisions.record(store, [DecisionRow(by_round, Node.BEGIN_ROUND, f"round:{r.number}", Action.INTERRUPT,
                                         f"round {r.number} of thread {r.thread_id} was still running when round "
                                         f"{by_round} started: its process is gone",
                                         {"thread_id": r.thread_id, "started_at": str(r.started_at),
                                          "owner": _json(r.summary)}) for r in stale])
    return [r.number for r in stale]


def _json(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def start_round(store: Store, thread_id: str) -> int:
    """Open the next round (after closing stale ``running`` ones); returns its store-wide number."""
    return open_round(store, thread_id)[0]


def open_round(store: Store, thread_id: str, index: int = 0) -> tuple[int, bool]:
    """Open the thread's ``index``-th round (after closing stale ``running`` ones); returns its store-wide number
    and whether it was already open: a process killed after opening it and before its checkpoint was written
    opens it again on resume, and must get the same round, not a new one."""
    t = Round.__table__
    with store.engine.begin() as conn:
        if index:
            for number, summary in conn.execute(sa.select(t.c.number, t.c.summary).where(
                    t.c.thread_id == thread_id, t.c.status == "running")).all():
                if isinstance(_json(summary), dict) and _json(summary).get("loop_index") == index:
                    conn.execute(sa.update(t).where(t.c.number == number).values(
                        summary=json.dumps({**_owner(), "loop_index": index})))
                    return number, True
        last = conn.execute(sa.select(sa.func.max(t.c.number))).scalar() or 0
        conn.execute(sa.insert(t).values(number=last + 1, thread_id=thread_id, status="running",
                                         started_at=utcnow(), summary=json.dumps({**_owner(), "loop_index": index})))
    interrupt_stale(store, last + 1)
    return last + 1, False


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


def started_at(store: Store, number: int):
    """When a round was opened (None for an unknown round)."""
    t = Round.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.started_at).where(t.c.number == number)).scalar()


def last_number(store: Store) -> int:
    """The newest round's number (0 before any)."""
    t = Round.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(t.c.number))).scalar() or 0
