"""Read-only view of the taxonomy for `iloop taxonomy` and the console."""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from state.cograph import build_graph
from state.models import Domain, Tag, TagMerge
from state.taxonomy import canonical_alignment
from tools.powerlaw import fit_degrees
from tools.taxonomy import domain_shares


def taxonomy_view(res, top: int = 15, aliases: int = 50) -> dict:
    t, d, m = Tag.__table__, Domain.__table__, TagMerge.__table__
    with res.store.engine.connect() as conn:
        domains = conn.execute(sa.select(d.c.id, d.c.name, d.c.description).order_by(d.c.id)).all()
        canon = conn.execute(sa.select(t.c.id, t.c.name, t.c.lang, t.c.frequency, t.c.domain_id)
                             .where(t.c.status == "canonical").order_by(t.c.frequency.desc())).all()
        best_zh: dict[int, tuple[str, int]] = {}
        names = {r.id: r.name for r in canon}
        for (en_id, zh_id), n in canonical_alignment(res.store).items():
            if zh_id in names and n > best_zh.get(en_id, ("", 0))[1]:
                best_zh[en_id] = (names[zh_id], n)
        src, dst = t.alias("src"), t.alias("dst")
        merges = conn.execute(sa.select(src.c.name.label("alias"), dst.c.name.label("canonical"), src.c.lang,
                                        m.c.method, m.c.similarity, m.c.round)
                              .select_from(m.join(src, m.c.from_tag_id == src.c.id).join(dst, m.c.to_tag_id == dst.c.id))
                              .order_by(m.c.id.desc()).limit(aliases)).mappings().all()
        aliases_total = conn.execute(sa.select(sa.func.count()).where(t.c.status == "alias")).scalar()
        noise = conn.execute(sa.select(sa.func.count()).where(t.c.status == "noise")).scalar()
    shares = domain_shares(res.store)
    per_domain: dict[int | None, list[dict]] = defaultdict(list)
    for r in canon:
        if r.lang == "en":
            per_domain[r.domain_id].append({"id": r.id, "name": r.name, "frequency": r.frequency,
                                            "zh": best_zh.get(r.id, ("", 0))[0]})
    out_domains = [{"name": dn, "description": desc, "conversations": shares.get(dn, 0), "tags": per_domain[did][:top],
                    "n_tags": len(per_domain[did])} for did, dn, desc in domains]
    if per_domain.get(None):
        out_domains.append({"name": "(unmapped)", "description": "", "conversations": 0,
                            "tags": per_domain[None][:top], "n_tags": len(per_domain[None])})
    graph = build_graph(res.store)
    fit = fit_degrees([deg for _, deg in graph.degree()])
    return {"domains": out_domains, "canonical": {"en": sum(r.lang == "en" for r in canon),
                                                  "zh": sum(r.lang == "zh" for r in canon)},
            "aliases_total": aliases_total, "aliases": [dict(x) for x in merges], "noise": noise,
            "graph": {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()},
            "power_law": fit.as_dict() if fit else None}
