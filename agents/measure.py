"""measure: measures the dataset against a random reference on the fixed map (tools/measure_dataset.py), writes the
round's metrics, closes the round and decides whether the loop goes on (``stop_reason``, with a decision row)."""
from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions, metrics as metric_repo, rounds
from state.decisions import Action, Node
from state.leaks import removed_in_round
from state.llm_calls import tokens_of_round
from state.stats import collect
from tools.dataset_figures import COVERAGE_FIGURES, DEPTH_FIGURES, growth
from tools.measure_dataset import measure_with_models
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


def dataset_history(metrics: dict[str, float]) -> dict[str, float]:
    """The round's figures the stop rule reads: the dataset's and the reference's coverage and depth."""
    out = {}
    for scope in ("dataset", "reference"):
        for name in COVERAGE_FIGURES + DEPTH_FIGURES:
            if f"{scope}_{name}" in metrics:
                out[f"{scope}_{name}"] = metrics[f"{scope}_{name}"]
    return out


def figure_growth(now: dict[str, float], history: list[dict[str, Any]], map_id: str = "") -> dict[str, float]:
    """Growth of the dataset's coverage and depth figures over the previous round. Round 1 (no previous round in
    this thread), or a round on another map than the one before, is compared with the random reference of the same
    size measured now (the pool before the loop chose anything, not zero): the dataset itself, or its subsample of
    the reference's size when the tagged pool is smaller than the dataset."""
    names = COVERAGE_FIGURES + DEPTH_FIGURES
    current = {n: now[f"dataset_{n}"] for n in names if f"dataset_{n}" in now}
    prev = history[-1] if history else {}
    if prev and prev.get("map_id", map_id) == map_id:
        before = {n: prev[f"dataset_{n}"] for n in current if f"dataset_{n}" in prev}
    else:
        if "matched_dataset_size" in now:
            current = {n: now[f"matched_dataset_{n}"] for n in names if f"matched_dataset_{n}" in now}
        before = {n: now[f"reference_{n}"] for n in current if f"reference_{n}" in now}
    return growth(current, before, names)


def stop_rule(rounds_done: int, growths: list[dict[str, float]], tokens: int, cfg) -> tuple[str, str]:
    """('' to go on, else ``max_rounds`` | ``token_budget`` | ``plateau``) and the reason in words. ``growths``:
    the figure growth of every round of this thread so far, the current one last. Plateau: in each of the last
    ``patience`` rounds every figure grew by less than ``min_growth``."""
    m = cfg.measure
    if cfg.max_tokens and tokens >= cfg.max_tokens:
        return "token_budget", f"{tokens} tokens spent >= max_tokens {cfg.max_tokens}"
    # every figure the settings measure must be there and flat: a figure missing on either side (nothing scored,
    # every rating rejected, no map) is not a plateau
    required = set(COVERAGE_FIGURES + DEPTH_FIGURES) - (set() if m.difficulty_sample else {"difficulty_mean"})
    last = growths[-m.patience:]
    if len(last) == m.patience and all(required <= set(g) and max(g.values()) < m.min_growth for g in last):
        figures = "; ".join(", ".join(f"{n} {v:+.4f}" for n, v in sorted(g.items())) for g in last)
        return "plateau", f"every coverage and depth figure grew by less than {m.min_growth} in the last " \
                          f"{m.patience} round(s): {figures}"
    if rounds_done >= cfg.max_rounds:
        return "max_rounds", f"{rounds_done} rounds run = max_rounds"
    return "", ""


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    vectors_total = res.vectors.count(res.conversations)
    metrics = round_metrics(collect(res.store), state.get("new_conversations", 0), state.get("embedded", 0),
                            vectors_total)
    metrics.update(graph_metrics(state.get("taxonomy") or {}))
    metrics.update((state.get("seeds") or {}).get("metrics") or {})
    for part in ("evolution", "diagnosis", "synthesis"):
        metrics.update((state.get(part) or {}).get("metrics") or {})
    figures, map_id = measure_with_models(res.store, res.vectors, res.conversations, res.assets, cfg, round_)
    metrics.update(figures)
    tokens = tokens_of_round(res.store, round_)
    metrics["tokens_round"] = tokens
    metrics["leaks_removed_round"] = removed_in_round(res.store, round_)
    history = state.get("history") or []
    growths = figure_growth(metrics, history, map_id)
    metrics.update({f"growth_{n}": v for n, v in growths.items()})
    spent = (state.get("tokens") or 0) + tokens
    reason, why = stop_rule(state.get("round", 0), [h.get("growth_figures") or {} for h in history] + [growths],
                            spent, cfg)
    metric_repo.record_metrics(res.store, round_, metrics)
    decisions.record_one(res.store, round_, Node.MEASURE, f"round:{round_}", Action.STOP if reason else
                         Action.CONTINUE, why or "coverage or depth still grows", {
                             "stop_reason": reason, "growth": growths, "tokens_spent": spent,
                             "figures": dataset_history(metrics)}, replaces=(Action.STOP, Action.CONTINUE))
    rounds.finish_round(res.store, round_, "done", {"metrics": metrics})
    entry = {"round": round_, "conversations_total": metrics["conversations_total"],
             "tags_canonical": metrics["tags_canonical"], "tokens": tokens, "growth_figures": growths,
             "map_id": map_id,
             **dataset_history(metrics)}
    return {"metrics": metrics, "history": [entry], "stop_reason": reason, "tokens": tokens}


def route_after_measure(state: IloopState) -> Literal["begin_round", "finish"]:
    return "finish" if state.get("stop_reason") else "begin_round"
