"""The diagnosis split, the oracle's findings and the skills they name; the one insert path of each table.

A diagnosis item is a seed set aside for good: its seed's status becomes ``held_out`` in the same transaction, so
the evolver never takes it, and ``held_out_ids`` is what every fine-tuning subset subtracts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from state import decisions
from state.db import Store, check_statuses, group_counts
from state.models import Seed, utcnow
from state.models_diagnosis import DiagnosisItem, Finding, FindingSkill, Skill

FINDING_STATUSES = ("ok", "rejected")
SKILL_STATUSES = ("mapped", "candidate")


@dataclass
class HeldOut:
    conversation_id: int
    seed_id: int | None
    domain: str
    criterion: str


@dataclass
class ItemRow:
    id: int
    conversation_id: int
    round: int
    domain: str
    criterion: str


@dataclass
class NewFinding:
    item_id: int
    adapter: str
    answer: str
    answer_tokens: int
    truncated: bool
    status: str  # ok | rejected
    reject_reason: str = ""
    deficient: bool = False
    severity: int = 0
    description: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewSkill:
    key: str
    name: str
    tag_id: int | None
    similarity: float
    status: str  # mapped | candidate
    domain: str


def hold_out(store: Store, round_: int, items: list[HeldOut]) -> None:
    """Store diagnosis items and take their seeds out of evolution, in one transaction."""
    if not items:
        return
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(sa.insert(DiagnosisItem.__table__), [dict(
            conversation_id=h.conversation_id, seed_id=h.seed_id, round=round_, domain=h.domain[:200],
            criterion=h.criterion[:16], created_at=now) for h in items])
        ids = [h.seed_id for h in items if h.seed_id is not None]
        if ids:
            s = Seed.__table__
            conn.execute(sa.update(s).where(s.c.id.in_(ids)).values(status="held_out"))


def held_out_ids(store: Store) -> set[int]:
    """Conversation ids of every diagnosis item ever drawn: out of every fine-tune, for good."""
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(DiagnosisItem.__table__.c.conversation_id)).scalars())


def items(store: Store, round_: int | None = None, undiagnosed: bool = False) -> list[ItemRow]:
    """Diagnosis items (of one round); ``undiagnosed``: only those without a finding yet."""
    t, f = DiagnosisItem.__table__, Finding.__table__
    q = sa.select(t.c.id, t.c.conversation_id, t.c.round, t.c.domain, t.c.criterion).order_by(t.c.id)
    if round_ is not None:
        q = q.where(t.c.round == round_)
    if undiagnosed:
        q = q.where(~sa.exists().where(f.c.item_id == t.c.id))
    with store.engine.connect() as conn:
        return [ItemRow(*r) for r in conn.execute(q)]


def add_findings(store: Store, round_: int, findings: list[NewFinding],
                 skills: list[list[tuple[NewSkill, str, float]]] | None = None, decided: list | None = None
                 ) -> list[int]:
    """Store findings with the skills each names ((skill, phrase as written, cosine) per finding, same order), in one
    transaction: a crash leaves a finding with all its skills or nothing. A skill keeps the round it was first
    diagnosed in. ``decided``: the decision rows that explain them, written in the same transaction. Returns the
    finding ids in order."""
    check_statuses("finding", (f.status for f in findings), FINDING_STATUSES)
    skills = skills if skills is not None else [[] for _ in findings]
    if len(skills) != len(findings):
        raise ValueError(f"{len(skills)} skill lists for {len(findings)} findings")
    check_statuses("skill", (sk.status for group in skills for sk, _, _ in group), SKILL_STATUSES)
    ids, now = [], utcnow()
    t = Skill.__table__
    with store.engine.begin() as conn:
        for f in findings:
            row = dict(round=round_, item_id=f.item_id, adapter=f.adapter[:64], answer=f.answer,
                       answer_tokens=f.answer_tokens, truncated=f.truncated, status=f.status,
                       reject_reason=f.reject_reason[:32], deficient=f.deficient, severity=f.severity,
                       description=f.description, detail=json.dumps(f.detail, ensure_ascii=False), created_at=now)
            ids.append(conn.execute(sa.insert(Finding.__table__).values(**row)).inserted_primary_key[0])
        new = {sk.key[:300]: sk for group in skills for sk, _, _ in group}
        if new:
            conn.execute(store.insert(t).on_conflict_do_nothing(index_elements=["key"]), [dict(
                key=k, name=sk.name[:200], tag_id=sk.tag_id, similarity=sk.similarity, status=sk.status,
                domain=sk.domain[:200], first_round=round_, created_at=now) for k, sk in new.items()])
            key_id = dict(conn.execute(sa.select(t.c.key, t.c.id).where(t.c.key.in_(sorted(new)))).all())
            links = {(fid, key_id[sk.key[:300]]): (phrase, sim)
                     for fid, group in zip(ids, skills) for sk, phrase, sim in group}
            conn.execute(store.insert(FindingSkill.__table__).on_conflict_do_nothing(
                index_elements=["finding_id", "skill_id"]),
                [dict(finding_id=f, skill_id=k, phrase=p[:200], similarity=v) for (f, k), (p, v) in links.items()])
        decisions.record(store, decided or [], conn)
    return ids


def deficient_findings(store: Store, round_: int) -> list[dict[str, Any]]:
    """The round's usable deficient findings with their skills and item: what the synthesizer works from."""
    f, fs, sk, it = Finding.__table__, FindingSkill.__table__, Skill.__table__, DiagnosisItem.__table__
    q = (sa.select(f.c.id, f.c.severity, f.c.description, it.c.conversation_id, it.c.domain, sk.c.id.label("skill_id"),
                   sk.c.name, sk.c.tag_id, sk.c.domain.label("skill_domain"))
         .select_from(f.join(it, it.c.id == f.c.item_id).join(fs, fs.c.finding_id == f.c.id)
                      .join(sk, sk.c.id == fs.c.skill_id))
         .where(f.c.round == round_, f.c.status == "ok", f.c.deficient.is_(True)).order_by(f.c.id, sk.c.id))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def finding_figures(store: Store) -> dict[str, Any]:
    f, it = Finding.__table__, DiagnosisItem.__table__
    with store.engine.connect() as conn:
        deficient = conn.execute(sa.select(sa.func.count()).where(f.c.status == "ok", f.c.deficient.is_(True))
                                 ).scalar() or 0
        rejected = conn.execute(sa.select(f.c.reject_reason, sa.func.count()).where(f.c.status == "rejected")
                                .group_by(f.c.reject_reason)).all()
        return {"items": conn.execute(sa.select(sa.func.count()).select_from(it)).scalar() or 0,
                "findings": conn.execute(sa.select(sa.func.count()).select_from(f)).scalar() or 0,
                "deficient": deficient, "rejected": {str(k): int(v) for k, v in rejected},
                "by_round": group_counts(conn, f.c.round),
                "skills_by_status": group_counts(conn, Skill.__table__.c.status)}
