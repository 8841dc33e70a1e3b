"""Missing skills -> canonical tags: each phrase maps to its nearest canonical tag by embedding cosine when that is at
least ``diagnosis.map_threshold``; below, it is a candidate new tag, recorded under its own phrase (never dropped).

English canonical tags are the targets (the oracle writes English skills; the English graph is the skill graph the
seed selector reads); a pool with no English tag maps to all canonical tags.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SkillMatch:
    phrase: str
    tag_id: int | None  # None: a candidate new tag
    tag_name: str  # the nearest tag's name (also for a candidate: what it came closest to)
    similarity: float

    @property
    def key(self) -> str:
        return f"tag:{self.tag_id}" if self.tag_id is not None else f"phrase:{self.phrase}"

    @property
    def name(self) -> str:
        return self.tag_name if self.tag_id is not None else self.phrase


def map_skills(phrases: list[str], tags: list[tuple[int, str]], space, threshold: float) -> list[SkillMatch]:
    """``tags``: (id, name) of the target canonical tags; ``space``: a TextSpace (cached vectors of tag texts)."""
    if not phrases:
        return []
    if not tags:
        return [SkillMatch(p, None, "", 0.0) for p in phrases]
    vecs = space.encode([name for _, name in tags] + list(phrases))
    tag_vecs, phrase_vecs = vecs[:len(tags)], vecs[len(tags):]
    sims = phrase_vecs @ tag_vecs.T
    out = []
    for p, row in zip(phrases, sims):
        k = int(np.argmax(row))
        sim = float(row[k])
        tid, name = tags[k]
        out.append(SkillMatch(p, tid if sim >= threshold else None, name, round(sim, 4)))
    return out
