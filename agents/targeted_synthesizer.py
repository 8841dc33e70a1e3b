"""targeted_synthesizer: for each skill the oracle found missing this round, new instructions aimed at it, checked
like evolutions and answered as dialogues, staged for the leakage guard with a link to their findings
(tools/synthesize.py)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.synthesize import synthesize_round


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    if not res.config.diagnosis.enabled:
        return {"synthesis": {"skipped": "diagnosis.enabled is false"}}
    s = synthesize_round(res.store, res.embedder, res.config, state.get("db_round", 0))
    rejected = sum(v for r, v in s["counts"].items() if r != "staged")
    return {"synthesis": {**s, "metrics": {"synthesis_skills": s["skills"], "synthesis_asked": s["asked"],
                                           "synthesis_staged": s["staged"], "synthesis_rejected": rejected}}}
