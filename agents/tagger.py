"""tagger: gives a seeded sample of untagged conversations (``tagging.max_per_round``) fine-grained English and
Chinese tags (tools/tag_conversations.py; stored per batch, so a rerun only sees what is still untagged)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state.metrics import record_metrics
from state.tags import untagged_ids
from tools.tag_conversations import tag_now


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    ids = untagged_ids(res.store, cfg.tagging.max_per_round, seed=cfg.seed + round_)
    tagged = tag_now(res.store, cfg, ids, round_)["tagged"]
    record_metrics(res.store, round_, {"tagger_items": len(ids)})  # the node's load, which `iloop plan` rates
    return {"tagged": tagged}
