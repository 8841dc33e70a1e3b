"""begin_round: opens a round in the store and advances the thread's loop counter."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    thread_id = str((config.get("configurable") or {}).get("thread_id", "default"))
    number = res.store.start_round(thread_id)
    res.store.record_decision(number, "begin_round", f"thread:{thread_id}", "start",
                              f"round {state.get('round', 0) + 1} of this thread", {"db_round": number})
    return {"round": 1, "db_round": number, "new_conversations": 0, "embedded": 0, "evolution": {}}
