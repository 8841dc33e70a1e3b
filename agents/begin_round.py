"""begin_round: opens a round in the store and advances the thread's loop counter. Opening it first closes any
round a killed process left ``running`` as ``interrupted``, with a decision (state/rounds.py). It also takes the
settings a person steered from the console, so a change lands at a round's start, never in its middle."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from settings.steerable import with_settings
from state import decisions, rounds, steering
from state.decisions import Action, Node


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    thread_id = str((config.get("configurable") or {}).get("thread_id", "default"))
    index = state.get("round", 0) + 1
    number, reopened = rounds.open_round(res.store, thread_id, index)
    # reopened after a crash: the start decision is written unless the killed run got to write it
    if not reopened or not decisions.round_items(res.store, number, Node.BEGIN_ROUND, (Action.START,), "thread:"):
        decisions.record_one(res.store, number, Node.BEGIN_ROUND, f"thread:{thread_id}", Action.START,
                             f"round {index} of this thread", {"db_round": number})
    steered = steering.setting_values(res.store)
    if steered:
        with_settings(res.config, steered)  # a bad value fails here, naming the key, before the round does work
    return {"round": 1, "db_round": number, "new_conversations": 0, "embedded": 0, "evolution": {},
            "diagnosis": {}, "synthesis": {}, "steered_settings": steered}
