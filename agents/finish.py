"""finish: records why the loop stopped (measure decided it)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions
from state.decisions import Action, Node


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    reason = state.get("stop_reason") or "max_rounds"
    decisions.record_one(res.store, state.get("db_round", 0), Node.FINISH, "loop", Action.STOP, reason,
                         {"rounds": state.get("round", 0), "history": state.get("history", [])})
    return {"stop_reason": reason}
