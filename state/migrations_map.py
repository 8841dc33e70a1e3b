"""Migration step 8 (frozen once released, like every step in ``state.migrations``): the map's cached places."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations


def m8_map_points(op: Operations) -> None:
    """Version 8: map_points (map id, content hash) -> x, y."""
    op.create_table(
        "map_points",
        sa.Column("map_id", sa.String(200), primary_key=True),
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
    )
