"""The taxonomy step: normalise both languages, align them, induce domains once, map every canonical tag.

Domains are induced when there are none and at least ``MIN_TAGS_FOR_DOMAINS`` canonical English tags; afterwards
only canonical tags without a domain are mapped, so domain ids stay stable. Chinese tags take the domain of the
English tag they are most often co-assigned with; the rest go to the LLM like English ones.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from state.models import ConversationTag, Domain, Tag
from state.taxonomy import canonical_alignment, canonical_tags_of
from state.vectors import collection_name
from tools.domains import (OTHER, cluster_tags, format_induce, format_map, format_name, parse_induce, parse_map,
                           parse_name, scaled_top_k, target_domains)
from tools.embedder import cached_vectors
from tools.normalize import normalize_language, scaled_min_freq

MIN_TAGS_FOR_DOMAINS = 8
# Domain lists and tag mappings are longer than a role's usual reply: these calls get their own token budgets.
INDUCE_MAX_TOKENS = 1500
MAP_TOKENS_PER_TAG = 10


def tagged_count(store) -> int:
    ct = ConversationTag.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count(sa.distinct(ct.c.conversation_id)))).scalar() or 0


def normalize_all(res, round_: int) -> dict:
    cfg = res.config
    tagged = tagged_count(res.store)
    min_freq = scaled_min_freq(tagged, cfg.taxonomy.paper_min_freq, cfg.taxonomy.paper_pool_size,
                               cfg.taxonomy.noise_min_freq)
    collection = collection_name("tags", cfg.embedding.model)
    reports = {}
    thresholds = cfg.thresholds()
    for lang in ("en", "zh"):  # English first: Chinese tags may merge through their aligned English tags
        embed = None
        if lang in thresholds.languages:
            embed = lambda names, lang=lang: cached_vectors(res.embedder, res.vectors, collection, names, f"{lang}:")
        reports[lang] = normalize_language(res.store, lang, embed, thresholds, min_freq, round_).as_dict()
        reports[lang]["method"] = "embedding" if embed else "alignment"
    reports["tagged_conversations"] = tagged
    return reports


def _canonical(store, lang: str | None = None, unmapped: bool = False) -> list[tuple[int, str, int]]:
    t = Tag.__table__
    q = sa.select(t.c.id, t.c.name, t.c.frequency).where(t.c.status == "canonical")
    if lang:
        q = q.where(t.c.lang == lang)
    if unmapped:
        q = q.where(t.c.domain_id.is_(None))
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q.order_by(t.c.frequency.desc(), t.c.id))]


def domain_ids(store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {n: i for i, n in conn.execute(sa.select(Domain.__table__.c.id, Domain.__table__.c.name))}


def induce_domains(res, llm, round_: int) -> dict:
    """One LLM call over the top-K tags (the paper's method); if the reply is rejected, cluster the same tags by
    embedding and let the LLM name each cluster instead."""
    cfg = res.config.taxonomy
    en = _canonical(res.store, "en")
    if len(en) < MIN_TAGS_FOR_DOMAINS:
        return {"induced": 0, "reason": f"only {len(en)} canonical English tags"}
    k = scaled_top_k(tagged_count(res.store), cfg.paper_pool_size, cfg.domain_top_k)
    top = [(name, freq) for _, name, freq in en[:k]]
    (result,) = llm.chat_many(cfg.domain_role, [format_induce(top, cfg.max_domains)],
                              parse=lambda text: parse_induce(text, cfg.max_domains), json_mode=True,
                              max_tokens=INDUCE_MAX_TOKENS)
    method, domains = "direct", result.value if result.ok else None
    if not result.ok:
        res.store.record_decision(round_, "taxonomist", "domains", "reject_reply", result.error,
                                  {"reply": result.text[:800], "fallback": "cluster-then-name"})
        method, domains = "cluster", _cluster_and_name(res, llm, [n for n, _ in top])
    if not domains:
        return {"induced": 0, "reason": "no usable domain list"}
    with res.store.session() as s:
        for d in domains + [{"name": OTHER, "description": "Tags that fit no other category."}]:
            s.add(Domain(name=d["name"], description=d["description"], round_created=round_))
        s.commit()
    res.store.record_decision(round_, "taxonomist", "domains", "induce", f"{len(domains)} domains from the "
                              f"top {len(top)} tags ({method})", {"domains": domains, "top_tags": top[:50]})
    return {"induced": len(domains), "top_k": len(top), "method": method}


def _cluster_and_name(res, llm, names: list[str]) -> list[dict[str, str]]:
    cfg = res.config.taxonomy
    vecs = cached_vectors(res.embedder, res.vectors, collection_name("tags", res.config.embedding.model), names, "en:")
    labels = cluster_tags(vecs, target_domains(len(names), cfg.max_domains), seed=res.config.seed)
    groups: dict[int, list[str]] = defaultdict(list)
    for name, label in zip(names, labels):
        groups[label].append(name)
    ordered = [g[:40] for _, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    results = llm.chat_many(cfg.domain_role, [format_name(g) for g in ordered], parse=parse_name, json_mode=True)
    domains, seen = [], set()
    for r in results:
        if r.ok and r.value["name"] not in seen:
            seen.add(r.value["name"])
            domains.append(r.value)
    return domains


def map_tags(res, llm, round_: int) -> dict:
    """English tags through the LLM first; then Chinese tags take their aligned English tag's domain; the Chinese
    tags left (no aligned partner with a domain) go through the LLM too."""
    domains = domain_ids(res.store)
    if not domains:
        return {"mapped": 0, "other": 0}
    counts: Counter = Counter()
    _llm_map(res, llm, round_, _canonical(res.store, "en", unmapped=True), domains, counts)
    counts["via_alignment"] = _map_by_alignment(res.store)
    _llm_map(res, llm, round_, _canonical(res.store, unmapped=True), domains, counts)
    return {k: counts[k] for k in ("mapped", OTHER, "via_alignment", "rejected_batches")}


def _map_by_alignment(store) -> int:
    t = Tag.__table__
    best: dict[int, tuple[int, int]] = {}
    for (en_id, zh_id), n in canonical_alignment(store).items():
        if n > best.get(zh_id, (0, 0))[1]:
            best[zh_id] = (en_id, n)
    done = 0
    with store.engine.begin() as conn:
        en_domain = dict(conn.execute(sa.select(t.c.id, t.c.domain_id).where(t.c.lang == "en",
                                                                            t.c.domain_id.is_not(None))).all())
        for zh_id, _, _ in _canonical(store, "zh", unmapped=True):
            d = en_domain.get(best.get(zh_id, (None, 0))[0])
            if d is not None:
                conn.execute(t.update().where(t.c.id == zh_id).values(domain_id=d))
                done += 1
    return done


def _llm_map(res, llm, round_: int, todo: list[tuple[int, str, int]], domains: dict[str, int], counts: Counter
             ) -> None:
    t = Tag.__table__
    rows = [dict(name=n, description=desc) for n, desc in _descriptions(res.store).items() if n != OTHER]
    names = [r["name"] for r in rows]
    batch = res.config.taxonomy.map_batch
    chunks = [todo[i:i + batch] for i in range(0, len(todo), batch)]
    prompts = [format_map([name for _, name, _ in chunk], rows) for chunk in chunks]
    parsers = [lambda text, tags=[n for _, n, _ in chunk]: parse_map(text, tags, names) for chunk in chunks]
    results = llm.chat_many("tagger", prompts, parse=parsers, json_mode=True,
                            max_tokens=MAP_TOKENS_PER_TAG * batch + 100) if prompts else []
    rejected = []
    with res.store.engine.begin() as conn:
        for chunk, result in zip(chunks, results):
            if not result.ok:  # these tags stay unmapped and are tried again next round
                counts["rejected_batches"] += 1
                rejected.append(dict(round=round_, node="taxonomist", subject=f"tags:{len(chunk)}",
                                     action="reject_reply", reason=result.error,
                                     evidence={"tags": [n for _, n, _ in chunk], "reply": result.text[:500]}))
                continue
            for tag_id, name, _ in chunk:
                domain = result.value[name]
                counts[OTHER if domain == OTHER else "mapped"] += 1
                conn.execute(t.update().where(t.c.id == tag_id).values(domain_id=domains[domain]))
    res.store.record_decisions(rejected)


def _descriptions(store) -> dict[str, str]:
    d = Domain.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(d.c.name, d.c.description).order_by(d.c.id)).all())


def primary_domains(store, conversation_ids: list[int] | None = None) -> dict[int, str]:
    """conversation id -> its domain: the most frequent domain among its canonical tags (ties: name order)."""
    t, d = Tag.__table__, Domain.__table__
    with store.engine.connect() as conn:
        tag_domain = dict(conn.execute(sa.select(t.c.id, d.c.name).select_from(
            t.join(d, t.c.domain_id == d.c.id))).all())
    out = {}
    for cid, tags in canonical_tags_of(store, conversation_ids).items():
        votes = Counter(tag_domain[x] for x in tags if x in tag_domain)
        if votes:
            out[cid] = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return out


def domain_shares(store) -> dict[str, int]:
    """Conversations per domain: each tagged conversation counts for its primary domain."""
    return dict(Counter(primary_domains(store).values()))


def tags_by_domain(store) -> dict[str, list[str]]:
    t, d = Tag.__table__, Domain.__table__
    out: dict[str, list[str]] = defaultdict(list)
    with store.engine.connect() as conn:
        for name, dom in conn.execute(sa.select(t.c.name, d.c.name).select_from(t.join(d, t.c.domain_id == d.c.id))
                                      .where(t.c.status == "canonical").order_by(t.c.frequency.desc())):
            out[dom].append(name)
    return dict(out)
