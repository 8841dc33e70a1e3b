"""pool_leakage_guard: removes pool items that copy a benchmark prompt, before anything is tagged or seeded.

Each stored conversation is checked once per benchmark-set fingerprint (tools/leakage_guard.py); a removed item is
deleted with its tags, seed row and vector, kept whole in the ``leaks`` table, and reported.
"""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.leakage_rounds import check_pool


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = check_pool(res.leakage_guard(), res.config, state.get("db_round", 0))
    removed = summary["pool"]["removed"]
    prev = state.get("leakage") or {}
    return {"leakage": {"removed": prev.get("removed", 0) + removed, "last": summary},
            "new_conversations": state.get("new_conversations", 0) - removed}
