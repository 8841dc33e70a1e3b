"""The rows the skill ledger is computed from (tools/ledger.py): skills, which findings named them, and each
round's diagnosis sample (usable findings and the M_FT that answered)."""
from __future__ import annotations

import sqlalchemy as sa

from state.db import Store
from state.models import Tag
from state.models_diagnosis import Finding, FindingSkill, Skill


def skills(store: Store) -> list[dict]:
    sk, t = Skill.__table__, Tag.__table__
    q = (sa.select(sk.c.id, sk.c.key, sk.c.name, sk.c.tag_id, t.c.name.label("tag"), sk.c.similarity, sk.c.status,
                   sk.c.domain, sk.c.first_round)
         .select_from(sk.outerjoin(t, t.c.id == sk.c.tag_id)).order_by(sk.c.first_round, sk.c.id))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def skill_findings(store: Store) -> list[tuple[int, int, int, int]]:
    """(skill id, finding id, round, severity) of every usable finding that named the skill."""
    fs, f = FindingSkill.__table__, Finding.__table__
    q = (sa.select(fs.c.skill_id, f.c.id, f.c.round, f.c.severity).select_from(fs.join(f, f.c.id == fs.c.finding_id))
         .where(f.c.status == "ok").order_by(f.c.id))
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]


def round_samples(store: Store) -> dict[int, dict]:
    """round -> {ok: usable findings, deficient, rejected, adapters: the M_FT fingerprints that answered}."""
    f = Finding.__table__
    q = sa.select(f.c.round, f.c.status, f.c.deficient, f.c.adapter)
    out: dict[int, dict] = {}
    with store.engine.connect() as conn:
        for round_, status, deficient, adapter in conn.execute(q):
            r = out.setdefault(round_, {"ok": 0, "deficient": 0, "rejected": 0, "adapters": set()})
            r["adapters"].add(adapter)
            if status == "ok":
                r["ok"] += 1
                r["deficient"] += bool(deficient)
            else:
                r["rejected"] += 1
    return out
