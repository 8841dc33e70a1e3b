"""coverage_analyst: reads the tag co-occurrence graph and SQL, finds under-covered regions and writes priorities.

Under-covered means: a thin domain (its share of tagged conversations is below ``thin_domain_ratio`` x the mean
share), a long-tail tag (frequency in the lowest ``long_tail_quantile``) or a low-degree tag (few co-occurring
tags: a skill seen only in isolation). Priorities are steering rows (set_by coverage_analyst) that the seed
selector and the synthesizer read; priorities a user set in the console are never overwritten.
"""
from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import sqlalchemy as sa
from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.cograph import build_graph, load_graph
from state.models import SteeringPriority, utcnow
from tools.domains import OTHER
from tools.taxonomy import domain_shares


def find_gaps(graph: nx.Graph, shares: dict[str, int], long_tail_q: float, thin_ratio: float, max_tags: int
              ) -> list[dict[str, Any]]:
    """Priorities as dicts: kind, key, weight, reason, evidence. Pure: unit-testable on a hand-made graph."""
    out: list[dict[str, Any]] = []
    real = {d: n for d, n in shares.items() if d != OTHER}
    total = sum(real.values())
    if real and total:
        mean = total / len(real)
        for domain, n in sorted(real.items(), key=lambda kv: kv[1]):
            if n < thin_ratio * mean:
                out.append(dict(kind="domain", key=domain, weight=round(min(5.0, mean / max(n, 1)), 3),
                                reason=f"thin domain: {n} conversations against a mean of {mean:.1f}",
                                evidence={"conversations": n, "mean": round(mean, 2), "share": round(n / total, 4)}))
    if graph.number_of_nodes():
        freqs = np.array([graph.nodes[t].get("frequency", 0) for t in graph.nodes])
        degrees = dict(graph.degree())
        f_cut = float(np.quantile(freqs, long_tail_q))
        d_cut = float(np.quantile(np.array(list(degrees.values())), long_tail_q))
        candidates = []
        for t in graph.nodes:
            f, d = graph.nodes[t].get("frequency", 0), degrees[t]
            long_tail, isolated = f <= f_cut, d <= d_cut
            if long_tail or isolated:
                candidates.append((not (long_tail and isolated), f, d, t, long_tail, isolated))
        for _, f, d, t, long_tail, isolated in sorted(candidates)[:max_tags]:
            why = " and ".join(w for w, on in (("long-tail", long_tail), ("low-degree", isolated)) if on)
            out.append(dict(kind="tag", key=graph.nodes[t].get("name", str(t)),
                            weight=3.0 if long_tail and isolated else 2.0,
                            reason=f"{why} tag: frequency {f} (cut {f_cut:g}), degree {d} (cut {d_cut:g})",
                            evidence={"tag_id": t, "frequency": f, "degree": d, "domain":
                                      graph.nodes[t].get("domain", ""), "lang": graph.nodes[t].get("lang", "")}))
    return out


def write_priorities(store, priorities: list[dict[str, Any]], round_: int) -> int:
    table = SteeringPriority.__table__
    with store.engine.begin() as conn:
        user_keys = set(conn.execute(sa.select(table.c.kind, table.c.key).where(table.c.set_by == "user")).all())
        conn.execute(sa.delete(table).where(table.c.set_by == "coverage_analyst"))
        rows = [dict(kind=p["kind"], key=p["key"][:200], weight=p["weight"], set_by="coverage_analyst", round=round_,
                     note=p["reason"], updated_at=utcnow()) for p in priorities if (p["kind"], p["key"]) not in user_keys]
        seen, unique = set(), []
        for r in rows:
            if (r["kind"], r["key"]) not in seen:
                seen.add((r["kind"], r["key"]))
                unique.append(r)
        if unique:
            conn.execute(sa.insert(table), unique)
    return len(unique)


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config.taxonomy, state.get("db_round", 0)
    try:  # the taxonomist saved this round's graph moments ago; rebuilding it from SQL would repeat that work
        graph = load_graph(res.config.home / "graphs", round_)
    except FileNotFoundError:
        graph = build_graph(res.store)
    shares = domain_shares(res.store)
    gaps = find_gaps(graph, shares, cfg.long_tail_quantile, cfg.thin_domain_ratio, cfg.max_tag_priorities)
    written = write_priorities(res.store, gaps, round_)
    res.store.record_decisions([dict(round=round_, node="coverage_analyst", subject=f"{g['kind']}:{g['key']}",
                                     action="prioritize", reason=g["reason"],
                                     evidence={**g["evidence"], "weight": g["weight"]}) for g in gaps])
    total = sum(shares.values())
    entropy = -sum((n / total) * math.log(n / total) for n in shares.values() if n) if total else 0.0
    res.store.record_metrics(round_, {"domains_covered": len(shares), "domain_entropy": round(entropy, 4),
                                      "priorities_written": written})
    return {"priorities": [{k: g[k] for k in ("kind", "key", "weight", "reason")} for g in gaps]}
