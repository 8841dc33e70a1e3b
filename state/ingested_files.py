"""Ingest bookkeeping: one row per (file fingerprint, source), so a file already read is skipped."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.models import IngestedFile, utcnow


def already_ingested(store: Store, fingerprint: str, source: str) -> bool:
    t = IngestedFile.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.id).where(t.c.fingerprint == fingerprint, t.c.source == source)
                            ).first() is not None


def record_file(store: Store, path: str, source: str, fingerprint: str, records: int, kept: int,
                counts: dict[str, int], round_: int) -> None:
    """Insert or (for a forced re-read) replace the bookkeeping of one read."""
    t = IngestedFile.__table__
    stmt = store.insert(t).values(path=path, source=source, fingerprint=fingerprint, records=records, kept=kept,
                                  counts=json.dumps(counts), round=round_, created_at=utcnow())
    stmt = stmt.on_conflict_do_update(index_elements=["fingerprint", "source"], set_={
        k: stmt.excluded[k] for k in ("path", "records", "kept", "counts", "round")})
    with store.engine.begin() as conn:
        conn.execute(stmt)


def figures(store: Store) -> dict[str, Any]:
    t = IngestedFile.__table__
    with store.engine.connect() as conn:
        files = conn.execute(sa.select(t.c.records, t.c.kept, t.c.counts)).all()
    outcomes: Counter = Counter()
    for f in files:
        outcomes.update(json.loads(f.counts))
    return {"files": len(files), "records": sum(f.records for f in files), "kept": sum(f.kept for f in files),
            "outcomes": dict(sorted(outcomes.items()))}
