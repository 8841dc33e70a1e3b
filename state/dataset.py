"""The dataset the loop builds: the seeds it selected (less those held out for diagnosis) plus the evolved and
synthesized conversations the leakage guard admitted. Leaks are deleted from the store, so they are not in it.
"""
from __future__ import annotations

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, Seed

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
