"""Conversations: the one insert path (ingest and candidate admission both use it), reads by id and by page, and
removal with everything that points at a removed row."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, LeakCheck, Seed, utcnow

Messages = list[dict[str, str]]
CHUNK = 900  # ids per IN (...): under SQLite's parameter limit


@dataclass
class NewConversation:
    """A conversation to store; ``content_hash`` is the caller's normalised-content hash (tools.formats)."""

    messages: Messages
    content_hash: str
    source: str
    lang: str
    origin: str = "pool"  # pool | evolved | synthesized
    source_ref: str = ""
    parent_id: int | None = None
    round_created: int = 0
    operation: str = ""

    def row(self) -> dict:
        return dict(content_hash=self.content_hash, messages=json.dumps(self.messages, ensure_ascii=False),
                    source=self.source[:200], source_ref=self.source_ref[:400], lang=self.lang, origin=self.origin,
                    parent_id=self.parent_id, round_created=self.round_created, operation=self.operation,
                    n_turns=sum(m["role"] == "assistant" for m in self.messages),
                    n_chars=sum(len(m["content"]) for m in self.messages), created_at=utcnow())


@dataclass
class StoredConversation:
    id: int
    content_hash: str
    messages: Messages
    lang: str
    origin: str
    source: str


def existing_hashes(store: Store, hashes: list[str]) -> dict[str, int]:
    """content hash -> id of those already stored."""
    t = Conversation.__table__
    out: dict[str, int] = {}
    with store.engine.connect() as conn:
        for k in range(0, len(hashes), CHUNK):
            out.update({h: i for h, i in conn.execute(sa.select(t.c.content_hash, t.c.id)
                                                      .where(t.c.content_hash.in_(hashes[k:k + CHUNK])))})
    return out


def source_refs(store: Store, hashes: list[str]) -> dict[str, tuple[int, str]]:
    """content hash -> (id, source_ref) of those already stored."""
    t = Conversation.__table__
    out: dict[str, tuple[int, str]] = {}
    with store.engine.connect() as conn:
        for k in range(0, len(hashes), CHUNK):
            out.update({h: (i, ref) for h, i, ref in conn.execute(sa.select(t.c.content_hash, t.c.id, t.c.source_ref)
                                                                  .where(t.c.content_hash.in_(hashes[k:k + CHUNK])))})
    return out


def add_conversations(store: Store, items: list[NewConversation]) -> dict[str, int]:
    """Store the items whose content is not stored yet; returns content hash -> new id for those stored now.
    Items with a hash already present (or repeated within ``items``) are left out: the caller counts them."""
    first: dict[str, NewConversation] = {}
    for it in items:
        first.setdefault(it.content_hash, it)
    stored = existing_hashes(store, list(first))  # once per batch: inside the comprehension it ran once per item
    fresh = [it for h, it in first.items() if h not in stored]
    if not fresh:
        return {}
    store.insert_ignore(Conversation.__table__, [it.row() for it in fresh], ["content_hash"])
    return existing_hashes(store, [it.content_hash for it in fresh])


def count(store: Store, where=None) -> int:
    """Stored conversations (those meeting ``where``, a condition as ``pages`` takes, when given)."""
    q = sa.select(sa.func.count()).select_from(Conversation.__table__)
    with store.engine.connect() as conn:
        return conn.execute(q if where is None else q.where(where)).scalar() or 0


def has_conversations(store: Store) -> bool:
    t = Conversation.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.id).limit(1)).first() is not None


def all_ids(store: Store) -> list[int]:
    t = Conversation.__table__
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(t.c.id).order_by(t.c.id)).scalars())


def _by_ids(store: Store, columns: list[str], ids: list[int]):
    t = Conversation.__table__
    with store.engine.connect() as conn:
        for k in range(0, len(ids), CHUNK):
            yield from conn.execute(sa.select(t.c.id, *[t.c[c] for c in columns]).where(t.c.id.in_(ids[k:k + CHUNK])))


def load_messages(store: Store, ids: list[int]) -> dict[int, tuple[str, Messages]]:
    """conversation id -> (content hash, messages)."""
    return {i: (h, json.loads(m)) for i, h, m in _by_ids(store, ["content_hash", "messages"], ids)}


def content_hashes(store: Store, ids: list[int]) -> dict[int, str]:
    return dict(_by_ids(store, ["content_hash"], ids))


def load(store: Store, ids: list[int]) -> dict[int, StoredConversation]:
    cols = ["content_hash", "messages", "lang", "origin", "source"]
    return {r[0]: StoredConversation(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in _by_ids(store, cols, ids)}


def pages(store: Store, page: int = 5000, where=None) -> Iterator[list[StoredConversation]]:
    """Every stored conversation in id order, ``page`` at a time (``where``: an extra SQL condition from another
    repository, e.g. "not yet checked against this benchmark set")."""
    t, last = Conversation.__table__, 0
    while True:
        q = sa.select(t.c.id, t.c.content_hash, t.c.messages, t.c.lang, t.c.origin, t.c.source).where(t.c.id > last)
        if where is not None:
            q = q.where(where)
        with store.engine.connect() as conn:
            rows = conn.execute(q.order_by(t.c.id).limit(page)).all()
        if not rows:
            return
        last = rows[-1].id
        yield [StoredConversation(r.id, r.content_hash, json.loads(r.messages), r.lang, r.origin, r.source)
               for r in rows]


def delete_conversations(store: Store, ids: list[int]) -> None:
    """Delete stored conversations and what points at them (tag links, seed rows, leak checks); children keep
    existing with no parent."""
    if not ids:
        return
    c, ct, s, lc = Conversation.__table__, ConversationTag.__table__, Seed.__table__, LeakCheck.__table__
    with store.engine.begin() as conn:
        for k in range(0, len(ids), CHUNK):
            part = ids[k:k + CHUNK]
            conn.execute(sa.delete(ct).where(ct.c.conversation_id.in_(part)))
            conn.execute(sa.delete(s).where(s.c.conversation_id.in_(part)))
            conn.execute(sa.delete(lc).where(lc.c.conversation_id.in_(part)))
            conn.execute(sa.update(c).where(c.c.parent_id.in_(part)).values(parent_id=None))
            conn.execute(sa.delete(c).where(c.c.id.in_(part)))


def evolved_with_parents(store: Store, limit: int = 200) -> list[dict]:
    """The newest generated conversations beside the seed they came from (the console's evolution table)."""
    c = Conversation.__table__
    p = c.alias("parent")
    q = (sa.select(c.c.round_created.label("round"), c.c.operation, c.c.n_turns, p.c.messages.label("seed"),
                   c.c.messages.label("evolved")).select_from(c.join(p, p.c.id == c.c.parent_id))
         .where(c.c.origin == "evolved").order_by(c.c.id.desc()).limit(limit))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def rows_after(store: Store, after_id: int, limit: int, origins: list[str] | None = None,
               ids: list[int] | None = None) -> list[dict]:
    """Whole rows in id order (export pages); ``ids``: only these (at most a page of them, for the IN list)."""
    c = Conversation.__table__
    q = sa.select(c).where(c.c.id > after_id).order_by(c.c.id).limit(limit)
    if origins:
        q = q.where(c.c.origin.in_(origins))
    if ids is not None:
        q = q.where(c.c.id.in_(ids))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
