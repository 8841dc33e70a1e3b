"""measure: writes the round's metrics, closes the round and decides whether the loop goes on (``stop_reason``)."""
from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import metrics as metric_repo, rounds
from state.stats import collect
from tools.powerlaw import fit_metrics


def round_metrics(stats: dict[str, Any], new: int, embedded: int, vectors_total: int) -> dict[str, float]:
    conv = stats["conversations"]
    total = conv["total"]
    metrics = {"conversations_total": total, "conversations_new": new, "embedded_new": embedded,
               "embedded_total": vectors_total, "mean_turns": conv["mean_turns"], "mean_chars": conv["mean_chars"],
               "multi_turn_share": conv["multi_turn"] / total if total else 0.0,
               "growth": new / max(1, total - new)}
    for lang, n in conv["by_lang"].items():
        metrics[f"lang_share_{lang}"] = n / total if total else 0.0
    for origin, n in conv["by_origin"].items():
        metrics[f"origin_{origin}"] = n
    tags = stats["tags"]
    metrics.update({"tags_canonical": tags["canonical"], "conversations_tagged": tags["conversations_tagged"],
                    "tagged_share": tags["conversations_tagged"] / total if total else 0.0,
                    "domains": stats["domains"]["total"]})
    return metrics


def graph_metrics(taxonomy: dict[str, Any]) -> dict[str, float]:
    """The taxonomist's graph figures: size, and the power-law fit of one language's degrees with its verdict
    against a lognormal and an exponential (R and p of each), so a round's gamma is never read without them."""
    return {"graph_nodes": taxonomy.get("graph_nodes", 0), "graph_edges": taxonomy.get("graph_edges", 0),
            **fit_metrics(taxonomy.get("power_law"))}


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    round_ = state.get("db_round", 0)
    vectors_total = res.vectors.count(res.conversations)
    metrics = round_metrics(collect(res.store), state.get("new_conversations", 0), state.get("embedded", 0),
                            vectors_total)
    metrics.update(graph_metrics(state.get("taxonomy") or {}))
    metrics.update((state.get("seeds") or {}).get("metrics") or {})
    for part in ("evolution", "diagnosis", "synthesis"):
        metrics.update((state.get(part) or {}).get("metrics") or {})
    metric_repo.record_metrics(res.store, round_, metrics)
    rounds.finish_round(res.store, round_, "done", {"metrics": metrics})
    # Growth is the larger of dataset growth and coverage growth (new canonical tags): a round that only tags
    # more of the pool still widens what the loop knows, so it is not a plateau.
    prev_tags = (state.get("history") or [{}])[-1].get("tags_canonical", 0)
    tag_growth = (metrics["tags_canonical"] - prev_tags) / max(1, prev_tags)
    growth = max(metrics["growth"], tag_growth)
    history = [{"round": round_, "growth": growth, "tag_growth": tag_growth,
                "conversations_total": metrics["conversations_total"], "tags_canonical": metrics["tags_canonical"]}]
    reason = stop_reason(state.get("round", 0), history[-1]["growth"], res.config.max_rounds,
                         res.config.plateau_min_growth)
    return {"metrics": metrics, "history": history, "stop_reason": reason}


def stop_reason(rounds_done: int, growth: float, max_rounds: int, min_growth: float) -> str:
    """'' to go on, else why the loop stops: ``max_rounds`` or ``plateau``."""
    if rounds_done >= max_rounds:
        return "max_rounds"
    if growth < min_growth:
        return "plateau"
    return ""


def route_after_measure(state: IloopState) -> Literal["begin_round", "finish"]:
    return "finish" if state.get("stop_reason") else "begin_round"
