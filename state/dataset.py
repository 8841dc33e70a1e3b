"""The dataset the loop builds: the seeds it selected (less those held out for diagnosis) plus the evolved and
synthesized conversations the leakage guard admitted. Leaks are deleted from the store, so they are not in it.
"""
from __future__ import annotations

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Seed
from state.models_diagnosis import DiagnosisItem

GENERATED = ("evolved", "synthesized")


def dataset_parts(store: Store) -> tuple[list[int], list[int]]:
    """(sorted seed conversation ids, sorted generated conversation ids) of the dataset. A generated item picked as
    a seed again (an evolution of an evolution) is listed as generated only."""
    s, c = Seed.__table__, Conversation.__table__
    seeds = sa.select(s.c.conversation_id).where(s.c.status != "held_out")
    generated = sa.select(c.c.id).where(c.c.origin.in_(GENERATED))
    with store.engine.connect() as conn:
        gen = set(conn.execute(generated).scalars())
        return sorted(set(conn.execute(seeds).scalars()) - gen), sorted(gen)


def dataset_ids(store: Store) -> list[int]:
    """Sorted conversation ids of the dataset."""
    seeds, generated = dataset_parts(store)
    return sorted(seeds + generated)


def generated_lineage(store: Store) -> dict[int, tuple[int | None, int]]:
    """Generated conversation id -> (parent conversation id, round created)."""
    c = Conversation.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(c.c.id, c.c.parent_id, c.c.round_created).where(c.c.origin.in_(GENERATED)))
        return {i: (p, r) for i, p, r in rows}


def generations(store: Store) -> dict[int, int]:
    """Generated conversation id -> its generation: 1 for an evolution of a pool conversation or a synthesized item,
    k + 1 for an evolution of a generation-k item (Evol-Instruct's evolutions of evolutions)."""
    lineage = generated_lineage(store)
    out: dict[int, int] = {}
    for start in lineage:
        chain, i = [], start
        while i in lineage and i not in out and i not in chain:  # `not in chain`: a cycle cannot loop forever
            chain.append(i)
            i = lineage[i][0]
        base = out.get(i, 0)
        for k, j in enumerate(reversed(chain), 1):
            out[j] = base + k
    return out


def seed_rounds(store: Store) -> dict[int, int]:
    """Seed conversation id -> the round it was selected in (held-out diagnosis items left out)."""
    s = Seed.__table__
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(s.c.conversation_id, s.c.round).where(s.c.status != "held_out")).all())


# A fixed pseudo-random order of conversation ids, computed in SQL (Knuth's multiplicative hash modulo a prime):
# a seeded sample of a 7M pool without reading its ids into Python. An id's key never changes, so a sample drawn
# again from a grown pool changes only where new ids fall among the smallest keys.
_MULT, _MOD = 2654435761, 4294967291


def pool_sample(store: Store, n: int, seed: int, tagged_only: bool) -> list[int]:
    """Sorted ids of up to ``n`` pool conversations (origin pool, no diagnosis item), the first ``n`` of the fixed
    seeded order; ``tagged_only``: only those with tags (the candidates the seed selector chooses from)."""
    if n <= 0:
        return []
    c, ct, di = Conversation.__table__, ConversationTag.__table__, DiagnosisItem.__table__
    q = sa.select(c.c.id).where(c.c.origin == "pool", c.c.id.not_in(sa.select(di.c.conversation_id)))
    if tagged_only:
        q = q.where(sa.exists().where(ct.c.conversation_id == c.c.id))
    q = q.order_by((c.c.id * _MULT + abs(int(seed))) % _MOD, c.c.id).limit(n)
    with store.engine.connect() as conn:
        return sorted(conn.execute(q).scalars())
