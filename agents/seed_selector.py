"""seed_selector: scores tagged conversations, fine-tunes M_FT when needed and selects informative seeds with the
paper's four criteria and/or ILA, steered by the coverage analyst's and the console's priorities
(tools/select_seeds.py). Every seed, and every near miss worth showing, is a decision with its numbers."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.select_seeds import select_round


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = select_round(res.store, res.vectors, res.assets, res.config, state.get("db_round", 0))
    # the scoring figures come from the round's selection decision: a re-run after a crash reports what the first
    # run scored, not its own empty pass over the cache
    metrics = {"seeds_new": summary["seeds_new"], "seeds_total": summary["already_seeds"] + summary["seeds_new"],
               "scored_new": summary["scoring"]["scored_new"],
               "scored_total": summary["scoring"]["scored_total"]}
    if summary["cells_covered"] is not None:
        metrics["seed_cells_covered"] = summary["cells_covered"]
    metrics.update({f"seeds_{c}": n for c, n in summary["by_criterion"].items()})
    metrics.update({f"seeds_dropped_{why}": n for why, n in summary.get("dropped", {}).items()})
    for key in ("loss_mean", "loss_std", "undertrained_threshold"):
        if summary["cuts"].get(key) is not None:
            metrics[key] = summary["cuts"][key]
    if summary["scoring"]["tokens_per_s"]:
        metrics["scoring_tokens_per_s"] = summary["scoring"]["tokens_per_s"]
    # measure writes these with the round's other metrics
    return {"seeds": {**{k: summary[k] for k in ("strategy", "seeds_new", "by_criterion", "cells_covered")},
                      "metrics": metrics}}
