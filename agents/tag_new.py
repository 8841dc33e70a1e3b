"""tag_new: tags the conversations the leakage guard admitted this round (evolved, synthesized), so they count in
coverage in the round that made them."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.tag_conversations import tag_generated


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    return {"tagged": state.get("tagged", 0) + tag_generated(res.store, res.config, state.get("db_round", 0))["tagged"]}
