"""Domains: the induced categories, which canonical tag belongs to which, and each conversation's primary domain.

Domain rows are never deleted: a re-induction that matches an old domain to none of the new ones retires it
(``status`` retired); listings and the mapper see active domains only. ``domain_inductions`` keeps the pool size
and K of every induction, which decide when the next one is due.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from state.columns import canonical_links, primary_domain_rows, tag_columns
from state.db import Store
from state.models import Domain, DomainInduction, Tag, utcnow

OTHER = "other"  # the catch-all category every induced set gets


@dataclass
class CanonicalTag:
    id: int
    name: str
    frequency: int


# the label of a conversation none of whose tags the taxonomist has placed yet (tag_new's, until the next round)
NO_DOMAIN = "(no domain yet)"

def canonical_tags(store: Store, lang: str | None = None, unmapped: bool = False) -> list[CanonicalTag]:
    """Canonical tags, most frequent first (``unmapped``: only those without a domain yet)."""
    t = Tag.__table__
    q = sa.select(t.c.id, t.c.name, t.c.frequency).where(t.c.status == "canonical")
    if lang:
        q = q.where(t.c.lang == lang)
    if unmapped:
        q = q.where(t.c.domain_id.is_(None))
    with store.engine.connect() as conn:
        return [CanonicalTag(*r) for r in conn.execute(q.order_by(t.c.frequency.desc(), t.c.id))]


def domain_ids(store: Store) -> dict[str, int]:
    """name -> id of the active domains ('other' included)."""
    d = Domain.__table__
    with store.engine.connect() as conn:
        return {n: i for i, n in conn.execute(sa.select(d.c.id, d.c.name).where(d.c.status == "active"))}


def descriptions(store: Store) -> dict[str, str]:
    """name -> description of the active domains, in creation order."""
    d = Domain.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(d.c.name, d.c.description).where(d.c.status == "active")
                                 .order_by(d.c.id)).all())


def domain_rows(store: Store) -> list[dict[str, str]]:
    """The active domains but 'other' as {name, description} rows, the list the LLM tasks are shown."""
    return [dict(name=n, description=d) for n, d in descriptions(store).items() if n != OTHER]


def all_domains(store: Store, include_retired: bool = False) -> list[tuple[int, str, str]]:
    d = Domain.__table__
    q = sa.select(d.c.id, d.c.name, d.c.description).order_by(d.c.id)
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q if include_retired else q.where(d.c.status == "active"))]


def add_domains(store: Store, domains: list[dict[str, str]], round_: int) -> dict[str, int]:
    """Store induced domains (name, description) and the catch-all 'other'; a retired domain of the same name is
    reactivated with the new description. Returns name -> id of the given domains and 'other'."""
    d = Domain.__table__
    rows = domains + [{"name": OTHER, "description": "Tags that fit no other category."}]
    store.insert_ignore(d, [dict(name=r["name"], description=r["description"], round_created=round_)
                            for r in rows], ["name"])
    names = [r["name"] for r in rows]
    with store.engine.begin() as conn:
        for r in domains:
            conn.execute(d.update().where(d.c.name == r["name"], d.c.status == "retired").values(
                status="active", round_retired=None, description=r["description"]))
        return dict(conn.execute(sa.select(d.c.name, d.c.id).where(d.c.name.in_(names))).all())


def retire_domains(store: Store, ids: list[int], round_: int) -> None:
    """Retire domains (never 'other'); their tags lose their domain and are mapped again."""
    d = Domain.__table__
    with store.engine.begin() as conn:
        conn.execute(d.update().where(d.c.id.in_(ids), d.c.name != OTHER).values(status="retired",
                                                                                  round_retired=round_))
    clear_domains_of(store, ids)


def set_description(store: Store, domain_id: int, description: str) -> None:
    d = Domain.__table__
    with store.engine.begin() as conn:
        conn.execute(d.update().where(d.c.id == domain_id).values(description=description))


def clear_domains_of(store: Store, ids: list[int], except_tags: set[int] | None = None) -> list[int]:
    """Unmap every tag of the given domains (but ``except_tags``): they go back to the mapper. Returns the tags."""
    t = Tag.__table__
    with store.engine.begin() as conn:
        tags = [i for i in conn.execute(sa.select(t.c.id).where(t.c.domain_id.in_(ids))).scalars()
                if i not in (except_tags or set())]
        for k in range(0, len(tags), 900):
            conn.execute(t.update().where(t.c.id.in_(tags[k:k + 900])).values(domain_id=None))
    return tags


def record_induction(store: Store, round_: int, tagged: int, top_k: int, n_domains: int, method: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.insert(DomainInduction.__table__).values(round=round_, tagged=tagged, top_k=top_k,
                                                                 n_domains=n_domains, method=method,
                                                                 created_at=utcnow()))


def last_induction(store: Store) -> dict | None:
    """round, tagged, top_k of the latest induction; None when there was none (or the store predates the table)."""
    di = DomainInduction.__table__
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(di.c.round, di.c.tagged, di.c.top_k).order_by(di.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row else None


def inductions(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(DomainInduction.__table__)).scalar() or 0


def other_share(store: Store) -> dict:
    """Canonical tags (both languages) by mapping state: how many sit in 'other', of those with a domain."""
    t, d = Tag.__table__, Domain.__table__
    q = (sa.select(t.c.lang, d.c.name, sa.func.count()).select_from(t.outerjoin(d, t.c.domain_id == d.c.id))
         .where(t.c.status == "canonical").group_by(t.c.lang, d.c.name))
    mapped, other, unmapped = Counter(), Counter(), Counter()
    with store.engine.connect() as conn:
        for lang, name, n in conn.execute(q):
            (unmapped if name is None else other if name == OTHER else mapped)[lang] += n
    total = sum(mapped.values()) + sum(other.values())
    out = {"mapped": total, "other": sum(other.values()), "unmapped": sum(unmapped.values()),
           "share": round(sum(other.values()) / total, 4) if total else 0.0}
    for lang in sorted(set(mapped) | set(other)):
        out[f"share_{lang}"] = round(other[lang] / (mapped[lang] + other[lang]), 4)
    return out


def set_tag_domains(store: Store, tag_domain: dict[int, int]) -> None:
    """tag id -> domain id."""
    if tag_domain:
        t = Tag.__table__
        with store.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(domain_id=sa.bindparam("d")),
                         [dict(b_id=k, d=v) for k, v in tag_domain.items()])


def tag_domain_ids(store: Store, lang: str | None = None) -> dict[int, int]:
    """tag id -> domain id of every mapped tag."""
    t = Tag.__table__
    q = sa.select(t.c.id, t.c.domain_id).where(t.c.domain_id.is_not(None))
    if lang:
        q = q.where(t.c.lang == lang)
    with store.engine.connect() as conn:
        return dict(conn.execute(q).all())


def canonical_by_domain(store: Store) -> list[tuple[int, str, str, int, int | None]]:
    """(id, name, lang, frequency, domain id) of every canonical tag, most frequent first."""
    t = Tag.__table__
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t.c.id, t.c.name, t.c.lang, t.c.frequency, t.c.domain_id)
                                               .where(t.c.status == "canonical").order_by(t.c.frequency.desc()))]


def primary_domains(store: Store, conversation_ids: list[int] | None = None) -> dict[int, str]:
    """conversation id -> its domain: the most frequent domain among its canonical tags (ties: name order; the
    rule is state.columns.primary_domain_rows, which the seed selector's arrays use too)."""
    tags = tag_columns(store)
    conv, dom = primary_domain_rows(*canonical_links(store, tags, conversation_ids), tags)
    return {int(c): tags.domain_names[d] for c, d in zip(conv.tolist(), dom.tolist())}


def domain_shares(store: Store) -> dict[str, int]:
    """Conversations per domain: each tagged conversation counts for its primary domain."""
    return dict(Counter(primary_domains(store).values()))
