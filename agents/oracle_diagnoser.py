"""oracle_diagnoser: M_FT (the scoring model fine-tuned on the dataset) answers the round's fresh held-out diagnosis
sample; the oracle role compares each answer with its reference and names the missing skills, which map to
canonical tags or become candidate tags (tools/diagnose.py). Every finding is a decision."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from tools.diagnose import diagnose_round


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    if not res.config.diagnosis.enabled:
        return {"diagnosis": {"skipped": "diagnosis.enabled is false"}}
    s = diagnose_round(res.store, res.assets, res.text_space("tags"), res.config, state.get("db_round", 0))
    metrics = {"diagnosis_items": s["items"], "diagnosis_deficient": s["deficient"],
               "diagnosis_rejected": sum(s["rejected"].values())}
    if s["items"]:
        metrics.update(diagnosis_deficiency_rate=s["deficient"] / max(1, s["items"] - metrics["diagnosis_rejected"]),
                       diagnosis_skills_mapped=s["mapped"], diagnosis_candidate_tags=s["candidate_tags"],
                       diagnosis_answer_tokens_per_s=s["answer_tokens_per_s"])
    return {"diagnosis": {**s, "metrics": metrics}}
