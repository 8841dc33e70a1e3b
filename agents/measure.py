"""measure: writes the round's metrics and closes the round; the router reads growth from the history."""
from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agents.embed import conversation_collection
from graph.context import resources
from graph.state import IloopState
from tools.stats import collect


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


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    round_ = state.get("db_round", 0)
    vectors_total = res.vectors.count(conversation_collection(res))
    metrics = round_metrics(collect(res.store), state.get("new_conversations", 0), state.get("embedded", 0),
                            vectors_total)
    taxonomy = state.get("taxonomy") or {}
    metrics.update({"graph_nodes": taxonomy.get("graph_nodes", 0), "graph_edges": taxonomy.get("graph_edges", 0)})
    metrics.update((state.get("seeds") or {}).get("metrics") or {})
    metrics.update((state.get("evolution") or {}).get("metrics") or {})
    fit = taxonomy.get("power_law")
    if fit:
        metrics.update({"powerlaw_gamma": fit["gamma"], "powerlaw_ks": fit["ks_distance"],
                        "powerlaw_loglog_r2": fit["loglog_r2"]})
    res.store.record_metrics(round_, metrics)
    res.store.finish_round(round_, "done", {"metrics": metrics})
    # Growth is the larger of dataset growth and coverage growth (new canonical tags): a round that only tags
    # more of the pool still widens what the loop knows, so it is not a plateau.
    prev_tags = (state.get("history") or [{}])[-1].get("tags_canonical", 0)
    tag_growth = (metrics["tags_canonical"] - prev_tags) / max(1, prev_tags)
    growth = max(metrics["growth"], tag_growth)
    return {"metrics": metrics, "history": [{"round": round_, "growth": growth, "tag_growth": tag_growth,
                                             "conversations_total": metrics["conversations_total"],
                                             "tags_canonical": metrics["tags_canonical"]}]}


def stop_reason(state: IloopState, max_rounds: int, min_growth: float) -> str:
    if state.get("round", 0) >= max_rounds:
        return "max_rounds"
    if state.get("history") and state["history"][-1]["growth"] < min_growth:
        return "plateau"
    return ""


def route_after_measure(state: IloopState, config: RunnableConfig) -> Literal["begin_round", "finish"]:
    cfg = resources(config).config
    return "finish" if stop_reason(state, cfg.max_rounds, cfg.plateau_min_growth) else "begin_round"
