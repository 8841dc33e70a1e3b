"""The SQL store: engine, migrations, and the small writes every node makes (decisions, metrics, rounds)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from state import migrations
from state.models import Decision, Metric, Round, utcnow


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the console read while a run writes; NORMAL sync is safe with WAL and much faster.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """Owns the engine; every write goes through short transactions so a crash loses at most one batch."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            self.migrate()

    def migrate(self) -> tuple[int, int]:
        with self.engine.begin() as conn:
            return migrations.upgrade(conn)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table):
        """The dialect's INSERT, which has on_conflict_* (SQLite and Postgres spell it the same way)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def insert_ignore(self, table, rows: list[dict[str, Any]], keys: list[str]) -> None:
        """Insert rows, skipping those that collide on the unique ``keys``."""
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self.insert(table).on_conflict_do_nothing(index_elements=keys), rows)

    def record_decision(self, round_: int, node: str, subject: str, action: str, reason: str = "",
                        evidence: dict[str, Any] | None = None) -> None:
        self.record_decisions([dict(round=round_, node=node, subject=subject, action=action, reason=reason,
                                    evidence=evidence or {})])

    def record_decisions(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # Core executemany: the seed selector writes one row per seed, which can be hundreds of thousands.
        now = utcnow()
        values = [dict(round=r["round"], node=r["node"], subject=str(r["subject"])[:400], action=r["action"],
                       reason=r.get("reason", ""), created_at=now,
                       evidence=json.dumps(r.get("evidence") or {}, ensure_ascii=False, default=str)) for r in rows]
        with self.engine.begin() as conn:
            for k in range(0, len(values), 20_000):
                conn.execute(sa.insert(Decision.__table__), values[k:k + 20_000])

    def record_metrics(self, round_: int, values: dict[str, float]) -> None:
        with self.session() as s:
            for name, value in values.items():
                s.add(Metric(round=round_, name=name, value=float(value)))
            s.commit()

    def latest_metrics(self) -> dict[str, float]:
        with self.session() as s:
            last = s.exec(select(sa.func.max(Metric.round))).one()
            if last is None:
                return {}
            rows = s.exec(select(Metric).where(Metric.round == last)).all()
            return {m.name: m.value for m in rows}

    def start_round(self, thread_id: str) -> int:
        with self.session() as s:
            last = s.exec(select(sa.func.max(Round.number))).one() or 0
            r = Round(number=last + 1, thread_id=thread_id)
            s.add(r)
            s.commit()
            return r.number

    def finish_round(self, number: int, status: str, summary: dict[str, Any]) -> None:
        with self.session() as s:
            r = s.exec(select(Round).where(Round.number == number)).first()
            if r is None:
                return
            r.status, r.finished_at = status, utcnow()
            r.summary = json.dumps(summary, default=str)
            s.add(r)
            s.commit()

    def last_thread_id(self) -> str | None:
        with self.session() as s:
            r = s.exec(select(Round).order_by(Round.number.desc())).first()
            return r.thread_id if r else None
