"""evolver: metadata-guided Evol-Instruct over the selected seeds, judge validation and 1-4 round dialogues,
staged as candidates for the leakage guard (tools/evolve_seeds.py; ``evolution.max_per_round`` seeds a round)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.evolve_seeds import evolve_pending


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = evolve_pending(res.store, res.embedder, res.config, state.get("db_round", 0))
    rejected = sum(v for r, v in summary["counts"].items() if r != "accepted")
    return {"evolution": {**summary, "metrics": {"evolved_seeds": summary["seeds"], "evolved_staged":
                                                 summary["staged"], "evolution_rejected": rejected}}}
