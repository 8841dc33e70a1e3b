"""Metrics: named numbers per round (the measure node's and every stage's figures)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.models import Metric, utcnow


# The graph figures the measure node writes each round (agents/measure.graph_metrics): the co-occurrence graph's
# size and the power-law fit of one language's degrees with both likelihood-ratio comparisons, so `iloop stats`
# never shows a gamma without the test that could reject it.
GRAPH_METRICS = ("graph_nodes", "graph_edges", "powerlaw_gamma", "powerlaw_x_min", "powerlaw_ks", "powerlaw_n_tail",
                 "powerlaw_n_nodes", "powerlaw_favoured", "powerlaw_vs_lognormal_r", "powerlaw_vs_lognormal_p",
                 "powerlaw_vs_exponential_r", "powerlaw_vs_exponential_p", "powerlaw_loglog_r2")


def record_metrics(store: Store, round_: int, values: dict[str, float]) -> None:
    """Write the round's values; a name the round already has is replaced, in the same transaction, so a node that
    runs again after a crash (its checkpoint not yet written) leaves one row per name, not two."""
    if values:
        now, m = utcnow(), Metric.__table__
        names = list(values)
        with store.engine.begin() as conn:
            for k in range(0, len(names), 900):
                conn.execute(sa.delete(m).where(m.c.round == round_, m.c.name.in_(names[k:k + 900])))
            conn.execute(sa.insert(m), [dict(round=round_, name=n, value=float(v), created_at=now)
                                        for n, v in values.items()])


def latest_metrics(store: Store) -> dict[str, float]:
    m = Metric.__table__
    with store.engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(m.c.round))).scalar()
        if last is None:
            return {}
        return {n: v for n, v in conn.execute(sa.select(m.c.name, m.c.value).where(m.c.round == last))}


def latest_of(store: Store, names: tuple[str, ...], anchor: str) -> dict[str, Any]:
    """The given metrics of the last round that wrote ``anchor`` (with that round's number), or {}."""
    m = Metric.__table__
    with store.engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(m.c.round)).where(m.c.name == anchor)).scalar()
        if last is None:
            return {}
        rows = conn.execute(sa.select(m.c.name, m.c.value).where(m.c.round == last, m.c.name.in_(names))).all()
    return {"round": last, **{n: v for n, v in rows}}


def all_metrics(store: Store) -> list[dict[str, Any]]:
    """(round, name, value) rows, for the console's charts."""
    m = Metric.__table__
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(m.c.round, m.c.name, m.c.value)).mappings()]


def by_round(store: Store, prefixes: tuple[str, ...]) -> dict[int, dict[str, float]]:
    """round -> {name: value} of the metrics whose names start with one of ``prefixes``, rounds in order."""
    m = Metric.__table__
    cond = sa.or_(*[m.c.name.startswith(p) for p in prefixes])
    out: dict[int, dict[str, float]] = {}
    with store.engine.connect() as conn:
        for r, n, v in conn.execute(sa.select(m.c.round, m.c.name, m.c.value).where(cond).order_by(m.c.round, m.c.id)):
            out.setdefault(r, {})[n] = v
    return out
