"""taxonomist: normalises the tags (Chinese ones through their aligned English tags), induces domains (again when
the tagged pool has grown by taxonomy.reinduce_growth, ids kept by tag overlap) and maps new canonical tags, then
saves the round's co-occurrence graph with its power-law fit (tools/taxonomy.py, tools/domain_growth.py)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions
from state.decisions import Action, Node
from tools.taxonomy import build_taxonomy


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    round_ = state.get("db_round", 0)
    report = build_taxonomy(res.store, res.text_space("tags"), res.config, round_)
    norm = report["normalize"]
    decisions.record_one(res.store, round_, Node.TAXONOMIST, "taxonomy", Action.NORMALIZE,
                         f"en {norm['en'].get('canonical', 0)} canonical / {norm['en'].get('tags', 0)} tags, "
                         f"zh {norm['zh'].get('canonical', 0)} / {norm['zh'].get('tags', 0)}", report)
    return {"taxonomy": {"canonical_en": norm["en"].get("canonical", 0), "canonical_zh": norm["zh"].get("canonical", 0),
                         "graph_nodes": report["graph"]["nodes"], "graph_edges": report["graph"]["edges"],
                         "power_law": report["graph"]["power_law"],
                         "domain_other_share": (report.get("other") or {}).get("share"),
                         "reinduced": bool((report.get("domains") or {}).get("reinduced"))}}
