"""taxonomist: normalises the tags (Chinese ones through their aligned English tags), induces domains once and maps
new canonical tags, then saves the round's co-occurrence graph with its power-law fit."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.cograph import build_graph, save_graph
from tools.embedded_server import embedded_servers
from tools.llm import LLM
from tools.powerlaw import fit_degrees
from tools.taxonomy import domain_ids, induce_domains, map_tags, normalize_all


def build_taxonomy(res, round_: int) -> dict[str, Any]:
    report = {"normalize": normalize_all(res, round_)}
    needs_llm = report["normalize"]["en"].get("canonical", 0) > 0
    if needs_llm:
        with embedded_servers(res.config, ["tagger", res.config.taxonomy.domain_role]):
            llm = LLM(res.config, res.store, round_)
            if not domain_ids(res.store):
                report["domains"] = induce_domains(res, llm, round_)
            report["mapping"] = map_tags(res, llm, round_)
    graph = build_graph(res.store)
    path = save_graph(graph, res.config.home / "graphs", round_)
    fit = fit_degrees([d for _, d in graph.degree()])
    report["graph"] = {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "path": str(path),
                       "power_law": fit.as_dict() if fit else None}
    return report


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    round_ = state.get("db_round", 0)
    report = build_taxonomy(res, round_)
    norm = report["normalize"]
    res.store.record_decision(round_, "taxonomist", "taxonomy", "normalize",
                              f"en {norm['en'].get('canonical', 0)} canonical / {norm['en'].get('tags', 0)} tags, "
                              f"zh {norm['zh'].get('canonical', 0)} / {norm['zh'].get('tags', 0)}", report)
    return {"taxonomy": {"canonical_en": norm["en"].get("canonical", 0), "canonical_zh": norm["zh"].get("canonical", 0),
                         "graph_nodes": report["graph"]["nodes"], "graph_edges": report["graph"]["edges"],
                         "power_law": report["graph"]["power_law"]}}
