"""SQL table of the fixed 2D map: each conversation's place on it, computed once (placing a point on a t-SNE map
costs a small optimisation). Same rules as ``state.models``; created by migration 8 (``state.migrations``)."""
from __future__ import annotations

from sqlmodel import Field, SQLModel


class MapPoint(SQLModel, table=True):
    """Where one instruction (by the content hash its vector is stored under) lies on one fitted map."""
    __tablename__ = "map_points"
    map_id: str = Field(max_length=200, primary_key=True)  # the fitted map (kind, embedder, size, fit time)
    content_hash: str = Field(max_length=64, primary_key=True)
    x: float
    y: float
