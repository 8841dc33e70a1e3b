"""`iloop plan`: what the next rounds will cost before they run: tokens per LLM role and wall time per node.

The load of a round comes from the settings (tagging.max_per_round conversations tagged, evolution.max_per_round
seeds evolved, diagnosis.sample_size items answered and judged, synthesis.max_per_round items asked for). The
rates come from the rounds already run in this home: seconds per item of each node (the ``node_seconds_<node>``
metric over the items it touched) and tokens per item of each role (token usage of cache misses over the items
of the node that role mostly serves). Before anything was measured, defaults stand in, marked ``default``: they
are the 2-core CPU figures of README's timings with the packaged 1.5B, so a GPU server will beat them by far.
Nodes without a per-item load (ingest, embed, taxonomist, measure, ...) are estimated at their mean seconds per
round. The plan does not model a growing pool or dataset: each planned round costs the same.
"""
from __future__ import annotations

from typing import Any

from settings import IloopConfig

# node -> the metric that counts its items in a past round, and its planned items per round from the settings
LOADS = {"tagger": ("tagged_round", lambda c: c.tagging.max_per_round),
         "evolver": ("evolved_seeds", lambda c: c.evolution.max_per_round),
         "oracle_diagnoser": ("diagnosis_items", lambda c: c.diagnosis.sample_size if c.diagnosis.enabled else 0),
         "targeted_synthesizer": ("synthesis_asked", lambda c: c.synthesis.max_per_round)}
ROLE_NODE = {"tagger": "tagger", "evolver": "evolver", "judge": "evolver", "oracle": "oracle_diagnoser",
             "synthesizer": "targeted_synthesizer"}
# Defaults (2 cores, packaged 1.5B; README "Timings"): seconds per item of a node, tokens per item of a role.
DEFAULT_SECONDS = {"tagger": 30.0, "evolver": 180.0, "oracle_diagnoser": 70.0, "targeted_synthesizer": 150.0}
DEFAULT_TOKENS = {"tagger": 1200, "evolver": 3000, "judge": 1000, "oracle": 1500, "synthesizer": 2500}


def plan_rounds(cfg: IloopConfig, metrics: dict[int, dict[str, float]], usage: dict[int, dict[str, dict[str, int]]],
                rounds: int) -> dict[str, Any]:
    """The estimate for ``rounds`` more rounds; ``metrics``: round -> {name: value} (node seconds and load
    metrics), ``usage``: round -> role -> token counters (both of the rounds run so far)."""
    nodes: dict[str, dict[str, Any]] = {}
    timed = sorted({n[len("node_seconds_"):] for m in metrics.values() for n in m if n.startswith("node_seconds_")})
    for node in sorted(set(timed) | set(LOADS)):
        secs = [(m[f"node_seconds_{node}"], m) for m in metrics.values() if f"node_seconds_{node}" in m]
        if node in LOADS:
            load_name, planned = LOADS[node]
            items = planned(cfg)
            done = [(s, m.get(load_name, 0)) for s, m in secs if m.get(load_name, 0) > 0]
            if done:
                rate, source = sum(s for s, _ in done) / sum(n for _, n in done), f"measured ({len(done)} rounds)"
            else:
                rate, source = DEFAULT_SECONDS[node], "default"
            nodes[node] = {"items": items, "seconds_per_item": round(rate, 2), "seconds": round(rate * items, 1),
                           "source": source}
        else:
            nodes[node] = {"seconds": round(sum(s for s, _ in secs) / len(secs), 1), "source":
                           f"measured ({len(secs)} rounds, per round)"}
    roles: dict[str, dict[str, Any]] = {}
    for role, node in ROLE_NODE.items():
        load_name = LOADS[node][0]
        spent = [(sum(u[role][k] for k in ("prompt_tokens", "completion_tokens")), metrics.get(r, {}).get(load_name, 0))
                 for r, u in usage.items() if role in u]
        spent = [(t, n) for t, n in spent if n > 0 and t > 0]
        items = nodes[node]["items"]
        if spent:
            rate, source = sum(t for t, _ in spent) / sum(n for _, n in spent), f"measured ({len(spent)} rounds)"
        else:
            rate, source = float(DEFAULT_TOKENS[role]), "default"
        roles[role] = {"tokens_per_item": round(rate), "tokens": round(rate * items), "per_item_of": node,
                       "source": source}
    per_round_s = sum(n["seconds"] for n in nodes.values())
    per_round_tokens = sum(r["tokens"] for r in roles.values())
    return {"rounds": rounds, "rounds_measured": len(metrics), "nodes": nodes, "roles": roles,
            "per_round": {"seconds": round(per_round_s, 1), "tokens": per_round_tokens},
            "total": {"seconds": round(per_round_s * rounds, 1), "tokens": per_round_tokens * rounds},
            "max_tokens": cfg.max_tokens,
            "fits_budget": None if not cfg.max_tokens else per_round_tokens * rounds <= cfg.max_tokens}
