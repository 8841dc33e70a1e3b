"""Store-wide figures for `iloop stats --json`, the measure node and the console.

The JSON layout is a contract (docs/stats.md): fields are only ever added, with ``schema_version`` raised when a
field changes meaning.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from state import (candidates, decisions, diagnosis, domains, ingested_files, leaks, llm_calls, losses, metrics, seeds,
                   steering, syntheses)
from state.db import Store, group_counts
from state.decisions import Action, Node
from state.models import Conversation, Domain, Round
from state.tags import status_counts, tagged_count

STATS_SCHEMA_VERSION = 1
GRAPH_METRICS = metrics.GRAPH_METRICS  # one list: what measure writes is what stats shows


def evolution_figures(store: Store) -> dict[str, Any]:
    """Staged candidates by status and operation; validation outcomes from the evolver's decisions."""
    rejected = Counter(ev.get("reason", "unknown") for ev in decisions.evidence_of(store, Node.EVOLVER,
                                                                                   Action.REJECT_EVOLUTION))
    # per-item rows ("conversation:<id>"), not the round summaries
    accepted = decisions.count(store, Node.EVOLVER, Action.EVOLVE, subject_prefix="conversation:")
    cand = candidates.figures(store)
    return {"accepted": accepted, "rejected": dict(sorted(rejected.items())),
            "candidates_by_status": cand["by_status"], "candidates_by_operation": cand["by_operation"]}


def conversation_figures(store: Store) -> dict[str, Any]:
    c = Conversation.__table__
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(c)).scalar() or 0
        avg = conn.execute(sa.select(sa.func.avg(c.c.n_turns), sa.func.avg(c.c.n_chars))).one()
        multi = conn.execute(sa.select(sa.func.count()).where(c.c.n_turns > 1)).scalar() or 0
        return {"total": total, "by_source": group_counts(conn, c.c.source),
                "by_origin": group_counts(conn, c.c.origin), "by_lang": group_counts(conn, c.c.lang),
                "mean_turns": round(float(avg[0] or 0), 3), "mean_chars": round(float(avg[1] or 0), 1),
                "multi_turn": multi}


def tag_figures(store: Store) -> dict[str, Any]:
    by = status_counts(store)
    return {"total": sum(by.values()), "canonical": sum(n for (_, st), n in by.items() if st == "canonical"),
            "conversations_tagged": tagged_count(store),
            "by_status": {st: sum(n for (_, s2), n in by.items() if s2 == st) for st in sorted({st for _, st in by})},
            "canonical_by_lang": {lang: n for (lang, st), n in sorted(by.items()) if st == "canonical"}}


MEASURED_SETS = ("dataset", "new_items", "seed_set", "reference", "pool", "matched_dataset")  # measure_dataset.SETS


def measure_figures(store: Store) -> dict[str, Any]:
    """The measure step's per-round figures, by set, with the growth the stop rule read and the last decision."""
    rows = metrics.by_round(store, tuple(f"{s}_" for s in MEASURED_SETS) + (
        "growth_", "generation_", "tokens_round", "leaks_removed_round", "node_seconds_", "node_tokens_"))
    out = []
    for r, vals in rows.items():
        entry: dict[str, Any] = {"round": r}
        for s in MEASURED_SETS:
            entry[s] = {k[len(s) + 1:]: v for k, v in vals.items() if k.startswith(f"{s}_")}
        entry["growth"] = {k[len("growth_"):]: v for k, v in vals.items() if k.startswith("growth_")}
        entry["generation"] = {k[len("generation_"):]: v for k, v in vals.items() if k.startswith("generation_")}
        entry["tokens"] = vals.get("tokens_round", 0.0)
        entry["leaks_removed"] = vals.get("leaks_removed_round", 0.0)
        nodes = [k[len("node_seconds_"):] for k in vals if k.startswith("node_seconds_")]
        entry["nodes"] = {n: {"seconds": vals[f"node_seconds_{n}"], "tokens": vals.get(f"node_tokens_{n}", 0.0)}
                          for n in nodes}
        out.append(entry)
    last = decisions.recent(store, Node.MEASURE.value, limit=1)
    if last:
        last[0]["evidence"] = json.loads(last[0]["evidence"])
    return {"rounds": out, "last_decision": last[0] if last else None}


def collect(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        # retired domains (a re-induction matched them to none) keep their rows for lineage but are not counted
        n_domains = conn.execute(sa.select(sa.func.count()).select_from(Domain.__table__)
                                 .where(Domain.__table__.c.status == "active")).scalar() or 0
        rounds = conn.execute(sa.select(Round.__table__.c.number, Round.__table__.c.status)
                              .order_by(Round.__table__.c.number)).all()
    by_node = decisions.counts_by_node(store)
    return {
        "schema_version": STATS_SCHEMA_VERSION,
        "conversations": conversation_figures(store),
        "ingest": ingested_files.figures(store),
        "tags": tag_figures(store),
        "domains": {"total": n_domains, "conversations": domains.domain_shares(store) if n_domains else {}},
        "graph": metrics.latest_of(store, GRAPH_METRICS, anchor="graph_nodes"),
        "rounds": {"total": len(rounds), "last": rounds[-1][0] if rounds else 0,
                   "by_status": dict(Counter(s for _, s in rounds))},
        "decisions": {"total": sum(by_node.values()), "by_node": by_node},
        "seeds": seeds.figures(store),
        "loss_scores": {"by_model": losses.counts_by_model(store)},
        "evolution": evolution_figures(store),
        "diagnosis": diagnosis.finding_figures(store),
        "synthesis": syntheses.figures(store),
        "leakage": leaks.figures(store),
        "measure": measure_figures(store),
        "steering": {"priorities": steering.count(store)},
        "llm_tokens": llm_calls.tokens_by_role(store),
    }
