"""The taxonomy step: normalise both languages, align them, induce (and, as the pool grows, re-induce) domains,
map every canonical tag, save the co-occurrence graph.

The domain part lives in ``tools.domain_growth``: induced when there are none and at least 8 canonical English tags,
re-induced when the tagged pool has grown by ``taxonomy.reinduce_growth`` or K has grown, with ids kept stable by
tag overlap. Chinese tags take the domain of the English tag they are most often co-assigned with; the rest go to
the LLM like English ones.
"""
from __future__ import annotations

from settings import IloopConfig
from state.cograph import cooccurrence_from_store, degrees, save_cooccurrence
from state.db import Store
from state.tags import tagged_count
from tools.domain_growth import update_domains
from tools.embedded_server import embedded_servers
from tools.embedder import TextSpace
from tools.llm import LLM
from tools.normalize import normalize_language, scaled_min_freq
from tools.powerlaw import fit_degrees


def normalize_all(store: Store, space: TextSpace, cfg: IloopConfig, round_: int) -> dict:
    """Normalise English, then Chinese (which may merge through its aligned English tags)."""
    tagged = tagged_count(store)
    min_freq = scaled_min_freq(tagged, cfg.taxonomy.paper_min_freq, cfg.taxonomy.paper_pool_size,
                               cfg.taxonomy.noise_min_freq)
    reports = {}
    thresholds = cfg.thresholds()
    for lang in ("en", "zh"):
        embed = None
        if lang in thresholds.languages:
            embed = lambda names, lang=lang: space.encode(names, f"{lang}:")
        reports[lang] = normalize_language(store, lang, embed, thresholds, min_freq, round_).as_dict()
        reports[lang]["method"] = "embedding" if embed else "alignment"
    reports["tagged_conversations"] = tagged
    return reports


def build_taxonomy(store: Store, space: TextSpace, cfg: IloopConfig, round_: int) -> dict:
    """Normalise, induce or re-induce domains when due, map new canonical tags, save the round's co-occurrence
    graph with its power-law fit; returns the report (the taxonomist node's and `iloop tag`'s work)."""
    report = {"normalize": normalize_all(store, space, cfg, round_)}
    if report["normalize"]["en"].get("canonical", 0) > 0:
        with embedded_servers(cfg, [cfg.taxonomy.map_role, cfg.taxonomy.domain_role]):
            llm = LLM(cfg, store, round_)
            report.update(update_domains(store, space, llm, cfg.taxonomy, round_, cfg.seed))
            llm.close()
    report["graph"] = graph_report(store, cfg, round_)
    return report


def graph_report(store: Store, cfg: IloopConfig, round_: int) -> dict:
    """Save the round's graph (every language, no edge between languages: the coverage analyst reads all tags) and
    fit the degrees of one language's tags, the report's Figure 15 setting."""
    graph = cooccurrence_from_store(store, lang=None)
    path = save_cooccurrence(graph, cfg.home / "graphs", round_)
    lang = cfg.taxonomy.graph_lang
    fit_on = degrees(graph, lang)
    fit = fit_degrees(fit_on)
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "path": str(path), "lang": lang,
            "lang_nodes": len(fit_on), "lang_edges": sum(fit_on) // 2, "power_law": fit.as_dict() if fit else None}
