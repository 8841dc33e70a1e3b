"""leakage_guard: checks the round's generated items (staged candidates) against the benchmark prompts before they
become conversations; clean ones are admitted (origin evolved or synthesized) and embedded, leaks never enter."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.leakage_rounds import check_candidates


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = check_candidates(res.leakage_guard(), res.config, state.get("db_round", 0), kinds=("evolved",))
    admitted = len(summary.pop("admitted_ids"))
    prev = state.get("leakage") or {}
    return {"leakage": {"removed": prev.get("removed", 0) + summary["candidates"]["leaks"], "last": summary},
            "new_conversations": state.get("new_conversations", 0) + admitted}
