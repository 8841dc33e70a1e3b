"""Read-only view of the taxonomy for `iloop taxonomy` and the console."""
from __future__ import annotations

from collections import defaultdict

from state.cograph import cooccurrence_from_store
from state.db import Store
from state.domains import all_domains, canonical_by_domain, domain_shares
from state.tags import canonical_alignment, recent_merges, status_counts
from tools.powerlaw import fit_degrees


def taxonomy_view(store: Store, top: int = 15, aliases: int = 50, graph_lang: str = "en") -> dict:
    canon = canonical_by_domain(store)
    names = {tid: name for tid, name, *_ in canon}
    best_zh: dict[int, tuple[str, int]] = {}
    for (en_id, zh_id), n in canonical_alignment(store).items():
        if zh_id in names and n > best_zh.get(en_id, ("", 0))[1]:
            best_zh[en_id] = (names[zh_id], n)
    by_status = status_counts(store)
    shares = domain_shares(store)
    per_domain: dict[int | None, list[dict]] = defaultdict(list)
    for tid, name, lang, freq, domain_id in canon:
        if lang == "en":
            per_domain[domain_id].append({"id": tid, "name": name, "frequency": freq, "zh": best_zh.get(tid, ("", 0))[0]})
    out_domains = [{"name": dn, "description": desc, "conversations": shares.get(dn, 0), "tags": per_domain[did][:top],
                    "n_tags": len(per_domain[did])} for did, dn, desc in all_domains(store)]
    if per_domain.get(None):
        out_domains.append({"name": "(unmapped)", "description": "", "conversations": 0,
                            "tags": per_domain[None][:top], "n_tags": len(per_domain[None])})
    graph = cooccurrence_from_store(store, lang=graph_lang)  # the fitted graph is one language's (docs/taxonomy.md)
    degrees = [deg for _, deg in graph.degree()]
    fit = fit_degrees(degrees)
    return {"degrees": sorted(degrees), "domains": out_domains, "canonical": {"en": sum(c[2] == "en" for c in canon),
                                                  "zh": sum(c[2] == "zh" for c in canon)},
            "aliases_total": sum(n for (_, st), n in by_status.items() if st == "alias"),
            "aliases": recent_merges(store, aliases),
            "noise": sum(n for (_, st), n in by_status.items() if st == "noise"),
            "graph": {"lang": graph_lang, "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()},
            "power_law": fit.as_dict() if fit else None}
