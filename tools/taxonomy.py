"""The taxonomy step: normalise both languages, align them, induce domains once, map every canonical tag.

Domains are induced when there are none and at least ``MIN_TAGS_FOR_DOMAINS`` canonical English tags; afterwards
only canonical tags without a domain are mapped, so domain ids stay stable. Chinese tags take the domain of the
English tag they are most often co-assigned with; the rest go to the LLM like English ones.
"""
from __future__ import annotations

from collections import Counter, defaultdict

from settings import IloopConfig, TaxonomySettings
from state import decisions, domains as domain_repo
from state.cograph import cooccurrence_from_store, save_cooccurrence
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.domains import OTHER, CanonicalTag, canonical_tags
from state.tags import canonical_alignment, tagged_count
from tools.domains import InduceDomainsTask, MapTagsTask, NameClusterTask, cluster_tags, scaled_top_k, target_domains
from tools.embedded_server import embedded_servers
from tools.embedder import TextSpace
from tools.llm import LLM
from tools.normalize import normalize_language, scaled_min_freq
from tools.powerlaw import fit_degrees

MIN_TAGS_FOR_DOMAINS = 8
# Domain lists and tag mappings are longer than a role's usual reply: these calls get their own token budgets.
INDUCE_MAX_TOKENS = 1500
MAP_TOKENS_PER_TAG = 10


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


def induce_domains(store: Store, space: TextSpace, llm, cfg: TaxonomySettings, round_: int, seed: int = 0) -> dict:
    """One LLM call over the top-K tags (the paper's method); if the reply is rejected, cluster the same tags by
    embedding and let the LLM name each cluster instead."""
    en = canonical_tags(store, "en")
    if len(en) < MIN_TAGS_FOR_DOMAINS:
        return {"induced": 0, "reason": f"only {len(en)} canonical English tags"}
    k = scaled_top_k(tagged_count(store), cfg.paper_pool_size, cfg.domain_top_k)
    top = [(t.name, t.frequency) for t in en[:k]]
    (result,) = llm.run(InduceDomainsTask(cfg.domain_role, cfg.max_domains, INDUCE_MAX_TOKENS), [top])
    method, found = "direct", result.value if result.ok else None
    if not result.ok:
        decisions.record_one(store, round_, Node.TAXONOMIST, "domains", Action.REJECT_REPLY, result.error,
                             {"reply": result.text[:800], "fallback": "cluster-then-name"})
        method, found = "cluster", _cluster_and_name(space, llm, cfg, [n for n, _ in top], seed)
    if not found:
        return {"induced": 0, "reason": "no usable domain list"}
    domain_repo.add_domains(store, found, round_)
    decisions.record_one(store, round_, Node.TAXONOMIST, "domains", Action.INDUCE,
                         f"{len(found)} domains from the top {len(top)} tags ({method})",
                         {"domains": found, "top_tags": top[:50]})
    return {"induced": len(found), "top_k": len(top), "method": method}


def _cluster_and_name(space: TextSpace, llm, cfg: TaxonomySettings, names: list[str], seed: int
                      ) -> list[dict[str, str]]:
    labels = cluster_tags(space.encode(names, "en:"), target_domains(len(names), cfg.max_domains), seed=seed)
    groups: dict[int, list[str]] = defaultdict(list)
    for name, label in zip(names, labels):
        groups[label].append(name)
    ordered = [g[:40] for _, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    found, seen = [], set()
    for r in llm.run(NameClusterTask(cfg.domain_role), ordered):
        if r.ok and r.value["name"] not in seen:
            seen.add(r.value["name"])
            found.append(r.value)
    return found


def map_tags(store: Store, llm, cfg: TaxonomySettings, round_: int) -> dict:
    """English tags through the LLM first; then Chinese tags take their aligned English tag's domain; the Chinese
    tags left (no aligned partner with a domain) go through the LLM too."""
    ids = domain_repo.domain_ids(store)
    if not ids:
        return {"mapped": 0, "other": 0}
    counts: Counter = Counter()
    _llm_map(store, llm, cfg, round_, canonical_tags(store, "en", unmapped=True), ids, counts)
    counts["via_alignment"] = _map_by_alignment(store)
    _llm_map(store, llm, cfg, round_, canonical_tags(store, unmapped=True), ids, counts)
    return {k: counts[k] for k in ("mapped", OTHER, "via_alignment", "rejected_batches")}


def _map_by_alignment(store: Store) -> int:
    best: dict[int, tuple[int, int]] = {}
    for (en_id, zh_id), n in canonical_alignment(store).items():
        if n > best.get(zh_id, (0, 0))[1]:
            best[zh_id] = (en_id, n)
    en_domain = domain_repo.tag_domain_ids(store, "en")
    todo = {t.id: en_domain.get(best.get(t.id, (None, 0))[0]) for t in canonical_tags(store, "zh", unmapped=True)}
    done = {k: v for k, v in todo.items() if v is not None}
    domain_repo.set_tag_domains(store, done)
    return len(done)


def _llm_map(store: Store, llm, cfg: TaxonomySettings, round_: int, todo: list[CanonicalTag], ids: dict[str, int],
             counts: Counter) -> None:
    rows = [dict(name=n, description=desc) for n, desc in domain_repo.descriptions(store).items() if n != OTHER]
    chunks = [todo[i:i + cfg.map_batch] for i in range(0, len(todo), cfg.map_batch)]
    task = MapTagsTask("tagger", rows, MAP_TOKENS_PER_TAG * cfg.map_batch + 100)
    results = llm.run(task, [[t.name for t in chunk] for chunk in chunks]) if chunks else []
    rejected, mapped = [], {}
    for chunk, result in zip(chunks, results):
        if not result.ok:  # these tags stay unmapped and are tried again next round
            counts["rejected_batches"] += 1
            rejected.append(DecisionRow(round_, Node.TAXONOMIST, f"tags:{len(chunk)}", Action.REJECT_REPLY,
                                        result.error, {"tags": [t.name for t in chunk], "reply": result.text[:500]}))
            continue
        for t in chunk:
            domain = result.value[t.name]
            counts[OTHER if domain == OTHER else "mapped"] += 1
            mapped[t.id] = ids[domain]
    domain_repo.set_tag_domains(store, mapped)
    decisions.record(store, rejected)


def build_taxonomy(store: Store, space: TextSpace, cfg: IloopConfig, round_: int) -> dict:
    """Normalise, induce domains when there are none, map new canonical tags, save the round's co-occurrence graph
    with its power-law fit; returns the report (the taxonomist node's and `iloop tag`'s work)."""
    report = {"normalize": normalize_all(store, space, cfg, round_)}
    if report["normalize"]["en"].get("canonical", 0) > 0:
        with embedded_servers(cfg, ["tagger", cfg.taxonomy.domain_role]):
            llm = LLM(cfg, store, round_)
            if not domain_repo.domain_ids(store):
                report["domains"] = induce_domains(store, space, llm, cfg.taxonomy, round_, cfg.seed)
            report["mapping"] = map_tags(store, llm, cfg.taxonomy, round_)
            llm.close()
    graph = cooccurrence_from_store(store)
    path = save_cooccurrence(graph, cfg.home / "graphs", round_)
    fit = fit_degrees([d for _, d in graph.degree()])
    report["graph"] = {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "path": str(path),
                       "power_law": fit.as_dict() if fit else None}
    return report
