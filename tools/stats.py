"""Store-wide figures for `iloop stats --json` and the measure node.

The JSON layout is a contract (docs/stats.md): fields are only ever added, with ``schema_version`` raised when a
field changes meaning.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from state.db import Store
from tools.taxonomy import domain_shares
from state.models import (Candidate, Conversation, ConversationTag, Decision, Domain, IngestedFile, Leak, LeakCheck,
                          LossScore, Round, Seed, SteeringPriority, Tag, TokenUsage)

STATS_SCHEMA_VERSION = 1


def graph_figures(store: Store) -> dict[str, Any]:
    """The latest round's co-occurrence graph figures, from the metrics the measure node wrote."""
    from state.models import Metric

    m = Metric.__table__
    names = ("graph_nodes", "graph_edges", "powerlaw_gamma", "powerlaw_ks", "powerlaw_loglog_r2")
    with store.engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(m.c.round)).where(m.c.name == "graph_nodes")).scalar()
        if last is None:
            return {}
        rows = conn.execute(sa.select(m.c.name, m.c.value).where(m.c.round == last, m.c.name.in_(names))).all()
    return {"round": last, **{n: v for n, v in rows}}


def seed_figures(conn) -> dict[str, Any]:
    """Seeds by criterion (a seed chosen by two criteria counts under both), strategy, round and status."""
    t = Seed.__table__
    by_criterion: Counter = Counter()
    for crits in conn.execute(sa.select(t.c.criteria)).scalars():
        by_criterion.update(json.loads(crits))
    return {"total": conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0,
            "by_criterion": dict(sorted(by_criterion.items())), "by_strategy": _group(conn, t.c.strategy),
            "by_round": _group(conn, t.c.round), "by_status": _group(conn, t.c.status)}


def evolution_figures(conn) -> dict[str, Any]:
    """Staged candidates by status and operation; validation outcomes from the evolver's decisions."""
    cand, d = Candidate.__table__, Decision.__table__
    rejected: Counter = Counter()
    for ev in conn.execute(sa.select(d.c.evidence).where(d.c.node == "evolver", d.c.action == "reject_evolution")
                           ).scalars():
        rejected[json.loads(ev).get("reason", "unknown")] += 1
    accepted = conn.execute(sa.select(sa.func.count()).where(  # per-item rows, not the round summaries
        d.c.node == "evolver", d.c.action == "evolve", d.c.subject.like("conversation:%"))).scalar() or 0
    return {"accepted": accepted, "rejected": dict(sorted(rejected.items())),
            "candidates_by_status": _group(conn, cand.c.status), "candidates_by_operation": _group(conn, cand.c.operation)}


def leakage_figures(conn) -> dict[str, Any]:
    """Removed items by benchmark, method and origin; how many stored conversations were checked."""
    lk, lc = Leak.__table__, LeakCheck.__table__
    return {"removed": conn.execute(sa.select(sa.func.count()).select_from(lk)).scalar() or 0,
            "by_benchmark": _group(conn, lk.c.benchmark), "by_method": _group(conn, lk.c.method),
            "by_origin": _group(conn, lk.c.origin),
            "checked": conn.execute(sa.select(sa.func.count()).select_from(lc)).scalar() or 0,
            "bench_sets": conn.execute(sa.select(sa.func.count(sa.distinct(lc.c.bench_fp)))).scalar() or 0}


def _group(conn, column) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute(sa.select(column, sa.func.count()).group_by(column)).all()}


def collect(store: Store) -> dict[str, Any]:
    c = Conversation.__table__
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(c)).scalar() or 0
        avg = conn.execute(sa.select(sa.func.avg(c.c.n_turns), sa.func.avg(c.c.n_chars))).one()
        multi = conn.execute(sa.select(sa.func.count()).where(c.c.n_turns > 1)).scalar() or 0
        tags_total = conn.execute(sa.select(sa.func.count()).select_from(Tag.__table__)).scalar() or 0
        tag_status = {(lang, st): n for lang, st, n in conn.execute(
            sa.select(Tag.__table__.c.lang, Tag.__table__.c.status, sa.func.count())
            .group_by(Tag.__table__.c.lang, Tag.__table__.c.status)).all()}
        tagged = conn.execute(sa.select(sa.func.count(sa.distinct(ConversationTag.__table__.c.conversation_id)))
                              ).scalar() or 0
        domains = conn.execute(sa.select(sa.func.count()).select_from(Domain.__table__)).scalar() or 0
        rounds = conn.execute(sa.select(Round.__table__.c.number, Round.__table__.c.status)
                              .order_by(Round.__table__.c.number)).all()
        decisions = _group(conn, Decision.__table__.c.node)
        usage = conn.execute(sa.select(TokenUsage.__table__)).mappings().all()
        files = conn.execute(sa.select(IngestedFile.__table__)).mappings().all()
        steering = conn.execute(sa.select(sa.func.count()).select_from(SteeringPriority.__table__)).scalar() or 0
        by_source, by_origin, by_lang = _group(conn, c.c.source), _group(conn, c.c.origin), _group(conn, c.c.lang)
        seeds = seed_figures(conn)
        evolution, leakage = evolution_figures(conn), leakage_figures(conn)
        ls = LossScore.__table__
        scored = _group(conn, ls.c.model_key)
    tokens: dict[str, dict[str, int]] = {}
    for u in usage:
        agg = tokens.setdefault(u["role"], Counter())
        for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "rejections", "repairs"):
            agg[k] += u[k]
    ingest_outcomes: Counter = Counter()
    for f in files:
        ingest_outcomes.update(json.loads(f["counts"]))
    return {
        "schema_version": STATS_SCHEMA_VERSION,
        "conversations": {"total": total, "by_source": by_source, "by_origin": by_origin, "by_lang": by_lang,
                          "mean_turns": round(float(avg[0] or 0), 3), "mean_chars": round(float(avg[1] or 0), 1),
                          "multi_turn": multi},
        "ingest": {"files": len(files), "records": sum(f["records"] for f in files),
                   "kept": sum(f["kept"] for f in files), "outcomes": dict(sorted(ingest_outcomes.items()))},
        "tags": {"total": tags_total, "canonical": sum(n for (_, st), n in tag_status.items() if st == "canonical"),
                 "conversations_tagged": tagged,
                 "by_status": {st: sum(n for (_, s2), n in tag_status.items() if s2 == st)
                               for st in sorted({st for _, st in tag_status})},
                 "canonical_by_lang": {lang: n for (lang, st), n in sorted(tag_status.items()) if st == "canonical"}},
        "domains": {"total": domains, "conversations": domain_shares(store) if domains else {}},
        "graph": graph_figures(store),
        "rounds": {"total": len(rounds), "last": rounds[-1][0] if rounds else 0,
                   "by_status": dict(Counter(s for _, s in rounds))},
        "decisions": {"total": sum(decisions.values()), "by_node": decisions},
        "seeds": seeds,
        "loss_scores": {"by_model": scored},
        "evolution": evolution,
        "leakage": leakage,
        "steering": {"priorities": steering},
        "llm_tokens": {role: dict(v) for role, v in sorted(tokens.items())},
    }
