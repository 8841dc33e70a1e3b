"""Read-only views of one round for the console's Rounds page: evolutions (accepted and rejected) beside their
seed, the oracle's findings with what was synthesized for them, and leakage removals beside the benchmark prompt.
Each view is capped (``limit``) so a round of thousands of items renders a page, not the round."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.decisions import Action, Node
from state.models import Candidate, Conversation, Decision, Leak
from state.models_diagnosis import DiagnosisItem, Finding, FindingSkill, Skill, Synthesis


def _messages(text: str | None) -> list[dict[str, Any]]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def evolutions(store: Store, round_: int, status: str = "all", limit: int = 100) -> list[dict[str, Any]]:
    """The evolver's per-seed outcomes of a round, newest first: operation, the judge's or the rule's reason, the
    seed's messages and the evolved dialogue (the staged candidate whole, with its fate; a rejected one's text as
    the decision kept it). ``status``: all | accepted | rejected."""
    d, c, cand = Decision.__table__, Conversation.__table__, Candidate.__table__
    actions = {"accepted": [Action.EVOLVE.value], "rejected": [Action.REJECT_EVOLUTION.value]}.get(
        status, [Action.EVOLVE.value, Action.REJECT_EVOLUTION.value])
    q = (sa.select(d.c.subject, d.c.action, d.c.reason, d.c.evidence).where(
        d.c.round == round_, d.c.node == Node.EVOLVER.value, d.c.action.in_(actions),
        d.c.subject.like("conversation:%")).order_by(d.c.id.desc()).limit(limit))
    out = []
    with store.engine.connect() as conn:
        for subject, action, reason, evidence in conn.execute(q).all():
            seed_id = int(subject.split(":", 1)[1])
            ev = json.loads(evidence)
            seed = conn.execute(sa.select(c.c.messages).where(c.c.id == seed_id)).scalar()
            row = {"seed_conversation": seed_id, "accepted": action == Action.EVOLVE.value,
                   "operation": ev.get("operation", ""), "reason": reason, "judge": ev.get("judge", ""),
                   "seed": _messages(seed), "evolved": [{"role": "user", "content": ev.get("evolved", "")}],
                   "candidate_status": "", "conversation_id": None}
            if row["accepted"]:
                staged = conn.execute(sa.select(cand.c.messages, cand.c.status, cand.c.conversation_id).where(
                    cand.c.round == round_, cand.c.kind == "evolved", cand.c.parent_id == seed_id)
                    .order_by(cand.c.id.desc())).first()
                if staged is not None:
                    row.update(evolved=_messages(staged[0]), candidate_status=staged[1], conversation_id=staged[2])
            out.append(row)
    return out


def findings(store: Store, round_: int, limit: int = 100) -> list[dict[str, Any]]:
    """The oracle's findings of a round (usable and rejected), each with its item's instruction, the skills it
    names and the syntheses written for those skills in the round."""
    f, it, fs, sk = Finding.__table__, DiagnosisItem.__table__, FindingSkill.__table__, Skill.__table__
    s, c, cand = Synthesis.__table__, Conversation.__table__, Candidate.__table__
    out = []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(f.c.id, f.c.status, f.c.reject_reason, f.c.deficient, f.c.severity,
                                      f.c.description, f.c.answer, it.c.conversation_id, it.c.domain)
                            .select_from(f.join(it, it.c.id == f.c.item_id)).where(f.c.round == round_)
                            .order_by(f.c.deficient.desc(), f.c.id).limit(limit)).mappings().all()
        for r in rows:
            skills = conn.execute(sa.select(sk.c.id, sk.c.name, sk.c.status).select_from(
                fs.join(sk, sk.c.id == fs.c.skill_id)).where(fs.c.finding_id == r["id"])).all()
            item = conn.execute(sa.select(c.c.messages).where(c.c.id == r["conversation_id"])).scalar()
            made = conn.execute(sa.select(s.c.skill_id, s.c.instruction, s.c.status, s.c.reason,
                                          cand.c.status.label("candidate_status"))
                                .select_from(s.outerjoin(cand, cand.c.id == s.c.candidate_id))
                                .where(s.c.round == round_, s.c.skill_id.in_([k[0] for k in skills]))
                                .order_by(s.c.id)).mappings().all() if skills else []
            out.append({**dict(r), "item": _messages(item),
                        "skills": [{"id": k, "name": n, "status": st} for k, n, st in skills],
                        "syntheses": [dict(m) for m in made]})
    return out


def leaks(store: Store, round_: int, limit: int = 100) -> list[dict[str, Any]]:
    """Items removed as benchmark leaks in a round: the item's messages beside the benchmark prompt it matched."""
    lk = Leak.__table__
    q = (sa.select(lk.c.origin, lk.c.source, lk.c.messages, lk.c.turn, lk.c.benchmark, lk.c.bench_ref,
                   lk.c.bench_text, lk.c.method, lk.c.similarity, lk.c.ngram, lk.c.llm_verdict)
         .where(lk.c.round == round_).order_by(lk.c.id.desc()).limit(limit))
    with store.engine.connect() as conn:
        return [{**dict(r), "messages": _messages(r["messages"])} for r in conn.execute(q).mappings()]
