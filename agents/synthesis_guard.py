"""synthesis_guard: the leakage guard's candidate check once more, for the items the targeted synthesizer staged.

leakage_guard admitted the round's evolutions before M_FT was trained on the dataset; this pass admits (or
removes as leaks) the synthesized items, which also catches near-copies of benchmark prompts among them.
"""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.leakage_rounds import check_candidates


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = check_candidates(res.leakage_guard(), res.config, state.get("db_round", 0), kinds=("synthesized",))
    leaked, admitted = summary["candidates"]["leaks"], len(summary.pop("admitted_ids"))
    removed = (state.get("leakage") or {}).get("removed", 0) + leaked
    return {"leakage": {"removed": removed, "last": summary},
            "new_conversations": state.get("new_conversations", 0) + admitted}
