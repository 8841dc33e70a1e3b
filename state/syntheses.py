"""Syntheses: every instruction the targeted synthesizer wrote, rejected with its reason or staged as a candidate;
the one insert path of the table. The candidate's status (state.candidates) says whether it became a conversation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from state import candidates, decisions
from state.candidates import NewCandidate
from state.db import Store, check_statuses
from state.decisions import Action, Node
from state.models import Candidate, Decision, utcnow
from state.models_diagnosis import Synthesis

STATUSES = ("staged", "rejected")


@dataclass
class NewSynthesis:
    skill_id: int
    finding_ids: list[int]
    instruction: str
    status: str  # staged | rejected
    reason: str = ""
    detail: str = ""


def add(store: Store, round_: int, rows: list[NewSynthesis], staged: list[NewCandidate | None],
        decided: list | None = None) -> None:
    """Store the round's syntheses, for those with a candidate in ``staged`` (same order) the candidate, and the
    decision rows that explain them, in one transaction: a crash leaves all or none. The round's summary decision
    (subject ``round:N``) is among ``decided`` also when nothing was written: it marks the round done."""
    check_statuses("synthesis", (r.status for r in rows), STATUSES)
    if len(staged) != len(rows):
        raise ValueError(f"{len(staged)} candidates for {len(rows)} syntheses")
    if not rows and not decided:
        return
    now = utcnow()
    with store.engine.begin() as conn:
        new = [c for c in staged if c is not None]
        ids = iter(candidates.stage(store, new, conn) if new else [])
        if rows:
            conn.execute(sa.insert(Synthesis.__table__), [dict(
            round=round_, skill_id=r.skill_id, finding_ids=json.dumps(r.finding_ids), instruction=r.instruction,
                status=r.status, reason=r.reason[:32], detail=r.detail,
                candidate_id=next(ids) if c is not None else None, created_at=now) for r, c in zip(rows, staged)])
        decisions.record(store, decided or [], conn)


def done_rounds(store: Store) -> set[int]:
    """Rounds the synthesizer is done with, so a resumed round does not ask again and ``iloop synthesize`` moves
    on: those with its summary decision (written with the round's rows, also when a round had nothing to write:
    no deficient skill, every weight 0, a limit of 0) or with rows."""
    d = Decision.__table__
    q = (sa.select(d.c.subject).where(d.c.node == Node.TARGETED_SYNTHESIZER.value,
                                      d.c.action == Action.SYNTHESIZE.value, d.c.subject.like("round:%")))
    with store.engine.connect() as conn:
        marked = {int(s.split(":", 1)[1]) for s in conn.execute(q).scalars()}
        return marked | set(conn.execute(sa.select(Synthesis.__table__.c.round).distinct()).scalars())


def outcomes(store: Store) -> list[dict]:
    """One row per synthesis: round, skill, status or the candidate's status when staged, reason."""
    s, c = Synthesis.__table__, Candidate.__table__
    q = (sa.select(s.c.id, s.c.round, s.c.skill_id, s.c.status, s.c.reason, s.c.candidate_id,
                   c.c.status.label("candidate_status"), c.c.conversation_id)
         .select_from(s.outerjoin(c, c.c.id == s.c.candidate_id)).order_by(s.c.id))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def figures(store: Store) -> dict:
    """Syntheses by status and rejection reason, and what became of the staged ones."""
    s, c = Synthesis.__table__, Candidate.__table__
    with store.engine.connect() as conn:
        by = conn.execute(sa.select(s.c.status, s.c.reason, c.c.status, sa.func.count())
                          .select_from(s.outerjoin(c, c.c.id == s.c.candidate_id))
                          .group_by(s.c.status, s.c.reason, c.c.status)).all()
    rejected = {reason: n for status, reason, _, n in by if status == "rejected"}
    staged = {cand or "pending": n for status, _, cand, n in by if status == "staged"}
    return {"written": sum(n for *_, n in by), "rejected": dict(sorted(rejected.items())),
            "staged": dict(sorted(staged.items()))}
