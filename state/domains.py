"""Domains: the induced categories, which canonical tag belongs to which, and each conversation's primary domain."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from state.db import Store
from state.models import Domain, Tag
from state.tags import canonical_tags_of

OTHER = "other"  # the catch-all category every induced set gets


@dataclass
class CanonicalTag:
    id: int
    name: str
    frequency: int


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
    d = Domain.__table__
    with store.engine.connect() as conn:
        return {n: i for i, n in conn.execute(sa.select(d.c.id, d.c.name))}


def descriptions(store: Store) -> dict[str, str]:
    """name -> description, in creation order."""
    d = Domain.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(d.c.name, d.c.description).order_by(d.c.id)).all())


def all_domains(store: Store) -> list[tuple[int, str, str]]:
    d = Domain.__table__
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(d.c.id, d.c.name, d.c.description).order_by(d.c.id))]


def add_domains(store: Store, domains: list[dict[str, str]], round_: int) -> None:
    """Store induced domains (name, description) and the catch-all 'other'."""
    rows = domains + [{"name": OTHER, "description": "Tags that fit no other category."}]
    store.insert_ignore(Domain.__table__, [dict(name=d["name"], description=d["description"], round_created=round_)
                                           for d in rows], ["name"])


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


def domain_shares(store: Store) -> dict[str, int]:
    """Conversations per domain: each tagged conversation counts for its primary domain."""
    return dict(Counter(primary_domains(store).values()))
