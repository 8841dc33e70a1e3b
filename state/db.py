"""The SQL store: engine, sessions, migrations and the dialect-aware insert the repositories share.

The repositories next to this module (conversations, seeds, candidates, leaks, steering, losses, decisions,
metrics, rounds, tags, domains, ...) are the only code that builds SQL; everything else calls their typed functions.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from state import migrations


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


def group_counts(conn: sa.Connection, column) -> dict[str, int]:
    """value -> row count of one column (the figures of stats and the console)."""
    return {str(k): int(v) for k, v in conn.execute(sa.select(column, sa.func.count()).group_by(column)).all()}


def check_statuses(what: str, given, allowed: tuple[str, ...]) -> None:
    """A status outside ``allowed`` is a programming error: refuse it before anything is written."""
    bad = set(given) - set(allowed)
    if bad:
        raise ValueError(f"unknown {what} status {sorted(bad)}; expected one of {', '.join(allowed)}")


def update_by_id(store: Store, table: sa.Table, values_by_id: dict[int, dict[str, Any]],
                 conn: sa.Connection | None = None) -> None:
    """Update rows by primary key in one transaction (the caller's, when ``conn`` is given), each with its own
    values."""
    if values_by_id and conn is None:
        with store.engine.begin() as own:
            return update_by_id(store, table, values_by_id, own)
    for row_id, values in values_by_id.items():
        conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))
