"""`iloop plan`: what the next rounds will cost before they run: wall time and LLM tokens per node, and tokens
per role.

The load of a round comes from the settings (tagging.max_per_round conversations tagged, evolution.max_per_round
seeds evolved, diagnosis.sample_size items answered and judged, synthesis.max_per_round items asked for). The
rates come from the rounds already run in this home: seconds and tokens per item of each node (its
``node_seconds_<node>`` and ``node_tokens_<node>`` metrics over the items it touched, agents/timing.py). Nodes
without a per-item load (ingest, embed, taxonomist, measure, ...) are estimated at their mean per round. The
tokens of a round are split over the LLM roles by each role's measured share of all tokens spent so far. Before
anything was measured, defaults stand in, marked ``default``: the 2-core CPU figures of README's timings with the
packaged 1.5B, so a GPU server beats them by far. The plan does not model a growing pool or dataset: each planned
round costs the same.
"""
from __future__ import annotations

from typing import Any

from settings import IloopConfig

# node -> the metric that counts its items in a past round, and its planned items per round from the settings
LOADS = {"tagger": ("tagger_items", lambda c: c.tagging.max_per_round),
         "evolver": ("evolved_seeds", lambda c: c.evolution.max_per_round),
         "oracle_diagnoser": ("diagnosis_items", lambda c: c.diagnosis.sample_size if c.diagnosis.enabled else 0),
         "targeted_synthesizer": ("synthesis_asked", lambda c: c.synthesis.max_per_round)}
# Defaults (2 cores, packaged 1.5B; README "Timings"): seconds and tokens per item of a node.
DEFAULT_SECONDS = {"tagger": 30.0, "evolver": 180.0, "oracle_diagnoser": 70.0, "targeted_synthesizer": 150.0}
DEFAULT_TOKENS = {"tagger": 1200, "evolver": 4000, "oracle_diagnoser": 1500, "targeted_synthesizer": 3000}
DEFAULT_ROLE_SHARE = {"tagger": 0.3, "evolver": 0.35, "judge": 0.15, "oracle": 0.1, "synthesizer": 0.1}
NOT_PER_ROUND = {"finish"}  # runs once per thread, not per round


def _rate(pairs: list[tuple[float, float]]) -> float | None:
    """sum(value) / sum(items) over the rounds that had items."""
    pairs = [(v, n) for v, n in pairs if n > 0]
    return sum(v for v, _ in pairs) / sum(n for _, n in pairs) if pairs else None


def plan_rounds(cfg: IloopConfig, metrics: dict[int, dict[str, float]], usage: dict[int, dict[str, dict[str, int]]],
                rounds: int) -> dict[str, Any]:
    """The estimate for ``rounds`` more rounds; ``metrics``: round -> {name: value} (node seconds and tokens, load
    metrics), ``usage``: round -> role -> token counters (both of the rounds run so far)."""
    timed = {n[len("node_seconds_"):] for m in metrics.values() for n in m if n.startswith("node_seconds_")}
    nodes: dict[str, dict[str, Any]] = {}
    for node in sorted((timed | set(LOADS)) - NOT_PER_ROUND):
        runs = [m for m in metrics.values() if f"node_seconds_{node}" in m]
        if node in LOADS:
            load, planned = LOADS[node]
            items = planned(cfg)
            secs = _rate([(m[f"node_seconds_{node}"], m.get(load, 0)) for m in runs])
            toks = _rate([(m.get(f"node_tokens_{node}", 0), m.get(load, 0)) for m in runs])
            measured = secs is not None
            secs = DEFAULT_SECONDS[node] if secs is None else secs
            toks = DEFAULT_TOKENS[node] if toks is None else toks
            nodes[node] = {"items": items, "seconds_per_item": round(secs, 2), "tokens_per_item": round(toks),
                           "seconds": round(secs * items, 1), "tokens": round(toks * items),
                           "source": f"measured ({sum(m.get(load, 0) > 0 for m in runs)} rounds)" if measured
                           else "default"}
        else:
            nodes[node] = {"seconds": round(sum(m[f"node_seconds_{node}"] for m in runs) / len(runs), 1),
                           "tokens": round(sum(m.get(f"node_tokens_{node}", 0) for m in runs) / len(runs)),
                           "source": f"measured ({len(runs)} rounds, per round)"}
    per_round_s = sum(n["seconds"] for n in nodes.values())
    per_round_tokens = sum(n["tokens"] for n in nodes.values())
    spent = {role: sum(u[role]["prompt_tokens"] + u[role]["completion_tokens"] for u in usage.values() if role in u)
             for role in sorted({r for u in usage.values() for r in u})}
    total = sum(spent.values())
    shares, source = ({r: v / total for r, v in spent.items()}, "measured share") if total else \
        (DEFAULT_ROLE_SHARE, "default share")
    roles = {r: {"share": round(sh, 3), "tokens": round(sh * per_round_tokens), "source": source}
             for r, sh in shares.items()}
    return {"rounds": rounds, "rounds_measured": len(metrics), "nodes": nodes, "roles": roles,
            "per_round": {"seconds": round(per_round_s, 1), "tokens": per_round_tokens},
            "total": {"seconds": round(per_round_s * rounds, 1), "tokens": per_round_tokens * rounds},
            "max_tokens": cfg.max_tokens,
            "fits_budget": None if not cfg.max_tokens else per_round_tokens * rounds <= cfg.max_tokens}


def plan_for_store(store, cfg: IloopConfig, rounds: int) -> dict[str, Any]:
    """plan_rounds over what this store measured so far (`iloop plan` and the console's estimates)."""
    from state.llm_calls import usage_by_round
    from state.metrics import by_round
    names = ("node_seconds_", "node_tokens_") + tuple(load for load, _ in LOADS.values())
    return plan_rounds(cfg, by_round(store, names), usage_by_round(store), rounds)
