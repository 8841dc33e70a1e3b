"""coverage_analyst: reads the tag co-occurrence graph and SQL, finds under-covered regions (tools/coverage.py)
and writes priorities. Priorities are steering rows (set_by coverage_analyst) that the seed
selector and the synthesizer read; priorities a user set in the console are never overwritten.
"""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions, steering
from state.cograph import cooccurrence_from_store, load_cooccurrence
from state.decisions import Action, DecisionRow, Node
from state.domains import domain_shares
from state.metrics import record_metrics
from tools.coverage import domain_entropy, find_gaps


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config.taxonomy, state.get("db_round", 0)
    try:  # the taxonomist saved this round's graph moments ago; rebuilding it from SQL would repeat that work
        graph = load_cooccurrence(res.config.home / "graphs", round_)
    except FileNotFoundError:
        graph = cooccurrence_from_store(res.store)
    shares = domain_shares(res.store)
    gaps = find_gaps(graph, shares, cfg.long_tail_quantile, cfg.thin_domain_ratio, cfg.max_tag_priorities)
    written = steering.replace_analyst_priorities(
        res.store, [steering.Priority(g["kind"], g["key"], g["weight"], g["reason"]) for g in gaps], round_)
    decisions.record(res.store, [DecisionRow(round_, Node.COVERAGE_ANALYST, f"{g['kind']}:{g['key']}",
                                             Action.PRIORITIZE, g["reason"], {**g["evidence"], "weight": g["weight"]})
                                 for g in gaps])
    record_metrics(res.store, round_, {"domains_covered": len(shares), "domain_entropy": round(domain_entropy(shares), 4),
                                       "priorities_written": written})
    return {"priorities": [{k: g[k] for k in ("kind", "key", "weight", "reason")} for g in gaps]}
