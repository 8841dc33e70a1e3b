"""Domains that grow with the pool: induce them (the paper's one call over the top-K tags), re-induce when the tagged
pool has grown by ``taxonomy.reinduce_growth`` or K has grown, keep ids stable across re-inductions, and map tags.

A re-induction maps a sample of already-placed English tags onto the new list, pairs old and new domains by the
overlap of their tags (``tools.domains.match_domains``), and then changes only what moved: a paired domain keeps
its id, name and tags; merges, splits, new and retired domains are decisions; the tags of retired, merged and split
domains and the tags in 'other' go back to the mapper (sampled ones take their new domain at once). New tags are
mapped as before. When 'other' still holds more than ``taxonomy.max_other_share`` of the English tags, the list is
extended for them (``tools.domain_extend``). The share of canonical tags in 'other' is written as a metric every
time.
"""
from __future__ import annotations

from collections import Counter, defaultdict

from settings import TaxonomySettings
from state import decisions, domains as domain_repo, metrics
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.domains import OTHER, CanonicalTag, canonical_tags
from state.tags import canonical_alignment, tagged_count
from tools.domain_extend import extend_domains
from tools.domains import (InduceDomainsTask, MapTagsTask, NameClusterTask, cluster_tags, match_domains,
                           scaled_top_k, target_domains)
from tools.embedder import TextSpace

MIN_TAGS_FOR_DOMAINS = 8
# Domain lists and tag mappings are longer than a role's usual reply: these calls get their own token budgets.
INDUCE_MAX_TOKENS = 1500
MAP_TOKENS_PER_TAG = 20  # the reply repeats the tag and names its domain
SAMPLE_TAGS = 400  # placed English tags a re-induction maps onto the new list to compare the two


def update_domains(store: Store, space: TextSpace, llm, cfg: TaxonomySettings, round_: int, seed: int = 0) -> dict:
    """Induce (first time), re-induce when due, map unmapped tags, write the 'other' share; returns the report."""
    report: dict = {}
    if not domain_repo.domain_ids(store):
        report["domains"] = induce_domains(store, space, llm, cfg, round_, seed)
    elif why := reinduction_due(store, cfg):
        report["domains"] = reinduce(store, space, llm, cfg, round_, seed, why)
    report["mapping"] = map_tags(store, llm, cfg, round_)
    invented = report["mapping"].get("invented", {})
    for _ in range(cfg.extend_passes):
        extension = extend_domains(store, llm, cfg, round_, domain_repo.other_share(store), invented,
                                   lambda: map_tags(store, llm, cfg, round_))
        if not extension:
            break
        report.setdefault("extension", []).append(extension)  # a failed pass too: the report says it was tried
        if not extension["added"]:
            break
        invented = extension["mapping"]["invented"]
    report["other"] = share = domain_repo.other_share(store)
    if domain_repo.domain_ids(store):
        metrics.record_metrics(store, round_, {"domain_other_share": share["share"],
                                               "domains_active": len(domain_repo.domain_ids(store)) - 1,
                                               "domain_inductions": domain_repo.inductions(store)})
    return report


def reinduction_due(store: Store, cfg: TaxonomySettings) -> str:
    """Why the domains should be induced again now ('' = not due)."""
    if not cfg.reinduce_growth:
        return ""
    last = domain_repo.last_induction(store) or {"tagged": 0, "top_k": 0}  # domains from before the record
    tagged = tagged_count(store)
    k = scaled_top_k(tagged, cfg.paper_pool_size, cfg.domain_top_k)
    if tagged >= cfg.reinduce_growth * max(1, last["tagged"]):
        return f"tagged pool grew from {last['tagged']} to {tagged} (factor {cfg.reinduce_growth:g})"
    if k > last["top_k"]:
        return f"K grew from {last['top_k']} to {k}"
    return ""


def _induce_list(store: Store, space: TextSpace, llm, cfg: TaxonomySettings, round_: int, seed: int):
    """One LLM call over the top-K tags; if the reply is rejected, cluster the same tags by embedding and let the
    LLM name each cluster. Returns (domains or None, method, top tags, K resolved)."""
    k = scaled_top_k(tagged_count(store), cfg.paper_pool_size, cfg.domain_top_k)
    top = [(t.name, t.frequency) for t in canonical_tags(store, "en")[:k]]
    (result,) = llm.run(InduceDomainsTask(cfg.domain_role, cfg.max_domains, INDUCE_MAX_TOKENS,
                                         cfg.min_domains), [top])
    if result.ok:
        return result.value, "direct", top, k
    decisions.record_one(store, round_, Node.TAXONOMIST, "domains", Action.REJECT_REPLY, result.error,
                         {"reply": result.text[:800], "fallback": "cluster-then-name"})
    return _cluster_and_name(space, llm, cfg, [n for n, _ in top], seed), "cluster", top, k


def induce_domains(store: Store, space: TextSpace, llm, cfg: TaxonomySettings, round_: int, seed: int = 0) -> dict:
    en = canonical_tags(store, "en")
    if len(en) < MIN_TAGS_FOR_DOMAINS:
        return {"induced": 0, "reason": f"only {len(en)} canonical English tags"}
    found, method, top, k = _induce_list(store, space, llm, cfg, round_, seed)
    if not found:
        return {"induced": 0, "reason": "no usable domain list"}
    domain_repo.add_domains(store, found, round_)
    tagged = tagged_count(store)
    domain_repo.record_induction(store, round_, tagged, k, len(found), method)
    decisions.record_one(store, round_, Node.TAXONOMIST, "domains", Action.INDUCE,
                         f"{len(found)} domains from the top {len(top)} tags of {tagged} tagged ({method})",
                         {"domains": found, "top_tags": top[:50], "tagged": tagged})
    return {"induced": len(found), "top_k": len(top), "method": method, "tagged": tagged}


def reinduce(store: Store, space: TextSpace, llm, cfg: TaxonomySettings, round_: int, seed: int, why: str) -> dict:
    found, method, top, k = _induce_list(store, space, llm, cfg, round_, seed)
    if not found:
        return {"reinduced": 0, "reason": "no usable domain list", "why": why}
    ids = {n: i for n, i in domain_repo.domain_ids(store).items() if n != OTHER}
    names = {i: n for n, i in ids.items()}
    placed = domain_repo.tag_domain_ids(store, "en")
    sample = [t for t in canonical_tags(store, "en") if placed.get(t.id) in names][:SAMPLE_TAGS]
    new_map = _map_names(llm, cfg, [d for d in found], sample)
    old_sets: dict[str, set[int]] = defaultdict(set)
    new_sets: dict[str, set[int]] = {d["name"]: set() for d in found}
    for t in sample:
        old_sets[names[placed[t.id]]].add(t.id)
        if new_map.get(t.id, OTHER) != OTHER:
            new_sets[new_map[t.id]].add(t.id)
    m = match_domains({n: old_sets.get(n, set()) for n in ids}, new_sets, cfg.domain_match_jaccard)
    desc = {d["name"]: d for d in found}
    added = domain_repo.add_domains(store, [desc[n] for n in m.added], round_)
    new_id = {**{n: ids[o] for n, o in m.kept.items()}, **added, OTHER: domain_repo.domain_ids(store)[OTHER]}
    changed = [ids[o] for o in m.splits if o in m.kept.values()]
    changed += [ids[m.kept[n]] for n in m.merges if n in m.kept]
    for n, o in m.kept.items():
        if ids[o] in changed:  # its content changed: the new description is the standard now
            domain_repo.set_description(store, ids[o], desc[n]["description"])
    retired = [ids[o] for o in m.retired]
    if m.added or changed or retired:
        changed.append(new_id[OTHER])  # tags nothing fitted may fit a new domain
    domain_repo.retire_domains(store, retired, round_)
    cleared = domain_repo.clear_domains_of(store, changed)
    moved = {t.id for t in sample if placed[t.id] in set(changed) | set(retired) and t.id in new_map}
    domain_repo.set_tag_domains(store, {tid: new_id[new_map[tid]] for tid in moved})
    tagged = tagged_count(store)
    domain_repo.record_induction(store, round_, tagged, k, len(found), method)
    _record_changes(store, round_, m, ids, added, why, found, top, tagged, method, len(cleared), len(moved))
    return {"reinduced": len(found), "why": why, "method": method, "top_k": len(top), "tagged": tagged,
            "kept": len(m.kept), "added": len(m.added), "retired": len(m.retired), "merges": len(m.merges),
            "splits": len(m.splits), "remapped_now": len(moved), "sent_to_mapper": len(cleared) - len(moved)}


def _record_changes(store: Store, round_: int, m, ids: dict[str, int], added: dict[str, int], why: str, found,
                    top, tagged: int, method: str, cleared: int, moved: int) -> None:
    rows = [DecisionRow(round_, Node.TAXONOMIST, "domains", Action.INDUCE,
                        f"re-induced {len(found)} domains from the top {len(top)} tags of {tagged} tagged "
                        f"({method}): {why}", {"domains": found, "kept": m.kept, "top_tags": top[:50],
                                               "tagged": tagged})]
    rows += [DecisionRow(round_, Node.TAXONOMIST, f"domain:{added[n]}", Action.ADD_DOMAIN, f'new domain "{n}"',
                         {"name": n}) for n in m.added]
    rows += [DecisionRow(round_, Node.TAXONOMIST, f"domain:{ids[o]}", Action.RETIRE_DOMAIN,
                         f'"{o}" matches no re-induced domain', {"name": o}) for o in m.retired]
    rows += [DecisionRow(round_, Node.TAXONOMIST, f"domain:{ids[m.kept[n]] if n in m.kept else added[n]}",
                         Action.MERGE_DOMAINS, f'{", ".join(olds)} fell into "{n}"', {"into": n, "from": olds})
             for n, olds in m.merges.items()]
    rows += [DecisionRow(round_, Node.TAXONOMIST, f"domain:{ids[o]}", Action.SPLIT_DOMAIN,
                         f'"{o}" split into {", ".join(parts)}', {"from": o, "into": parts})
             for o, parts in m.splits.items()]
    rows.append(DecisionRow(round_, Node.TAXONOMIST, f"tags:{cleared}", Action.REMAP,
                            f"{moved} sampled tags moved to their new domain, {cleared - moved} sent to the mapper",
                            {"moved": moved, "to_mapper": cleared - moved}))
    decisions.record(store, rows)


def _cluster_and_name(space: TextSpace, llm, cfg: TaxonomySettings, names: list[str], seed: int
                      ) -> list[dict[str, str]]:
    n_clusters = target_domains(len(names), cfg.max_domains, cfg.min_domains)
    labels = cluster_tags(space.encode(names, "en:"), n_clusters, seed=seed)
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


def _map_names(llm, cfg: TaxonomySettings, domains: list[dict[str, str]], todo: list[CanonicalTag],
               counts: Counter | None = None, rejected: list | None = None, invented: Counter | None = None
               ) -> dict[int, str]:
    """tag id -> domain name (or 'other') for the tags the mapper placed. Tags a reply leaves out are asked again
    once in half-size batches; those left then stay unmapped (counted ``left_out``), as do rejected batches.
    ``invented`` counts the unlisted category names replies used."""
    counts = Counter() if counts is None else counts
    invented = Counter() if invented is None else invented
    out: dict[int, str] = {}
    pending, size = list(todo), cfg.map_batch
    for _ in range(2):
        chunks = [pending[i:i + size] for i in range(0, len(pending), size)]
        if not chunks:
            break
        task = MapTagsTask(cfg.map_role, domains, MAP_TOKENS_PER_TAG * size + 100)
        left: list[CanonicalTag] = []
        for chunk, result in zip(chunks, llm.run(task, [[t.name for t in chunk] for chunk in chunks])):
            if not result.ok:  # these tags stay unmapped and are tried again next round
                counts["rejected_batches"] += 1
                if rejected is not None:
                    rejected.append((chunk, result))
                continue
            counts["unknown_category"] += len(result.value.unknown)
            invented.update(result.value.invented)
            for t in chunk:
                if t.name in result.value:
                    out[t.id] = result.value[t.name]
                else:
                    left.append(t)
        pending, size = left, max(1, size // 2)
    counts["left_out"] += len(pending)
    return out


def map_tags(store: Store, llm, cfg: TaxonomySettings, round_: int) -> dict:
    """English tags through the LLM first; then Chinese tags take their aligned English tag's domain; the Chinese
    tags left (no aligned partner with a domain) go through the LLM too."""
    ids = domain_repo.domain_ids(store)
    if not ids:
        return {"mapped": 0, OTHER: 0, "invented": {}}
    counts: Counter = Counter()
    invented: Counter = Counter()
    _llm_map(store, llm, cfg, round_, canonical_tags(store, "en", unmapped=True), ids, counts, invented)
    counts["via_alignment"] = _map_by_alignment(store)
    _llm_map(store, llm, cfg, round_, canonical_tags(store, "zh", unmapped=True), ids, counts, invented)
    return {**{k: counts[k] for k in ("mapped", OTHER, "via_alignment", "rejected_batches", "left_out",
                                      "unknown_category")}, "invented": dict(invented.most_common(20))}


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
             counts: Counter, invented: Counter) -> None:
    rows = domain_repo.domain_rows(store)
    rejected: list = []
    placed = _map_names(llm, cfg, rows, todo, counts, rejected, invented)
    for domain in placed.values():
        counts[OTHER if domain == OTHER else "mapped"] += 1
    domain_repo.set_tag_domains(store, {tid: ids[d] for tid, d in placed.items()})
    decisions.record(store, [DecisionRow(round_, Node.TAXONOMIST, f"tags:{len(chunk)}", Action.REJECT_REPLY,
                                         result.error, {"tags": [t.name for t in chunk], "reply": result.text[:500]})
                             for chunk, result in rejected])
