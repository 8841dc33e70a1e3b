"""finish: records why the loop stopped."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.measure import stop_reason
from graph.context import resources
from graph.state import IloopState


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    reason = stop_reason(state, res.config.max_rounds, res.config.plateau_min_growth) or "max_rounds"
    res.store.record_decision(state.get("db_round", 0), "finish", "loop", "stop", reason,
                              {"rounds": state.get("round", 0), "history": state.get("history", [])})
    return {"stop_reason": reason}
