"""Places on the fixed map, cached by (map, content hash): one insert path, one read."""
from __future__ import annotations

import sqlalchemy as sa

from state.db import Store
from state.models_map import MapPoint

CHUNK = 900


def known(store: Store, map_id: str, hashes: list[str]) -> dict[str, tuple[float, float]]:
    t = MapPoint.__table__
    out: dict[str, tuple[float, float]] = {}
    with store.engine.connect() as conn:
        for k in range(0, len(hashes), CHUNK):
            out.update({h: (x, y) for h, x, y in conn.execute(sa.select(t.c.content_hash, t.c.x, t.c.y).where(
                t.c.map_id == map_id, t.c.content_hash.in_(hashes[k:k + CHUNK])))})
    return out


def add(store: Store, map_id: str, hashes: list[str], xy) -> None:
    store.insert_ignore(MapPoint.__table__, [dict(map_id=map_id, content_hash=h, x=float(p[0]), y=float(p[1]))
                                             for h, p in zip(hashes, xy)], ["map_id", "content_hash"])
