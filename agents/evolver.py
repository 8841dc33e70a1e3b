"""evolver: metadata-guided Evol-Instruct over the selected seeds, validation, and 1-4 round dialogues.

For each seed (oldest selected first, ``evolution.max_per_round``): a random operation (weights x steering of kind
'operation'), the seed's tags and domain in the prompt; rule checks and the judge role validate the rewrite; a
valid one becomes a dialogue and is staged as a candidate for the leakage guard, which admits it as a conversation
(origin 'evolved', parent = the seed). Choices are seeded per (seed, attempt), so a rerun after a crash asks the
same prompts and the LLM cache answers them. Every rejection is a decision row with its reason.
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter
from typing import Any, Callable

import sqlalchemy as sa
from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.models import Candidate, Conversation, Seed, Tag, utcnow
from state.taxonomy import canonical_tags_of
from tools.dialogue import build_dialogues
from tools.embedded_server import embedded_servers
from tools.evolution import (SeedItem, choose_operation, choose_rounds, format_evolve, format_judge, parse_evolve,
                             parse_judge, rule_check)
from tools.formats import content_hash
from tools.llm import LLM
from tools.seed_frame import load_steering
from tools.taxonomy import primary_domains

CHUNK = 8  # seeds per stored batch: a crash loses at most this much work


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pending_seeds(store, limit: int) -> list[tuple[int, int, int]]:
    """(seed id, conversation id, attempts) of seeds still waiting for evolution, oldest first."""
    s = Seed.__table__
    q = sa.select(s.c.id, s.c.conversation_id, s.c.attempts).where(s.c.status == "selected").order_by(s.c.id)
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q.limit(limit) if limit else q)]


def load_items(store, rows: list[tuple[int, int, int]]) -> list[SeedItem]:
    ids = [cid for _, cid, _ in rows]
    c, t = Conversation.__table__, Tag.__table__
    with store.engine.connect() as conn:
        convs = {i: (json.loads(m), lang) for i, m, lang in conn.execute(
            sa.select(c.c.id, c.c.messages, c.c.lang).where(c.c.id.in_(ids)))}
        names = {i: (n, lang) for i, n, lang in conn.execute(sa.select(t.c.id, t.c.name, t.c.lang))}
    tags, domains = canonical_tags_of(store, ids), primary_domains(store, ids)
    items = []
    for sid, cid, _ in rows:
        messages, lang = convs[cid]
        en = sorted(names[x][0] for x in tags.get(cid, ()) if names.get(x, ("", ""))[1] == "en")
        instruction = next((m["content"] for m in messages if m["role"] == "user"), "")
        items.append(SeedItem(sid, cid, instruction, lang, en, domains.get(cid, "")))
    return items


def operation_weights(res) -> dict[str, float]:
    steer = load_steering(res.store).operation
    return {op: w * steer.get(op, 1.0) for op, w in res.config.evolution.operation_weights.items()}


def _reject(round_: int, item: SeedItem, op: str, reason: str, detail: str, text: str = "") -> dict[str, Any]:
    return dict(round=round_, node="evolver", subject=f"conversation:{item.conversation_id}",
                action="reject_evolution", reason=f"{reason}: {detail}",
                evidence={"reason": reason, "operation": op, "seed_id": item.seed_id, "evolved": text[:800]})


def evolve_chunk(res, llm: LLM, items: list[SeedItem], attempts: dict[int, int], round_: int,
                 weights: dict[str, float]) -> tuple[list[dict], list[dict], Counter]:
    """Evolve, validate and build dialogues for one chunk; returns (candidates, decisions, reason counts)."""
    cfg, s = res.config, res.config.evolution
    rngs = {it.seed_id: random.Random(f"{cfg.seed}:{it.seed_id}:{attempts[it.seed_id]}") for it in items}
    ops = {it.seed_id: choose_operation(rngs[it.seed_id], weights) for it in items}
    results = llm.chat_many("evolver", [format_evolve(it, ops[it.seed_id]) for it in items], parse=parse_evolve,
                            json_mode=True)
    decisions, counts, passed = [], Counter(), []
    for it, r in zip(items, results):
        if not r.ok:
            counts["evolver_error"] += 1
            decisions.append(_reject(round_, it, ops[it.seed_id], "evolver_error", r.error, r.text))
        else:
            passed.append((it, r.value))
    if passed:
        vecs = res.embedder.encode([t for it, e in passed for t in (it.instruction, e)])
        sims = (vecs[0::2] * vecs[1::2]).sum(axis=1)
    checked = []
    for (it, evolved), sim in zip(passed, sims if passed else []):
        reason, detail = rule_check(it, evolved, ops[it.seed_id], float(sim), s)
        if reason:
            counts[reason] += 1
            decisions.append(_reject(round_, it, ops[it.seed_id], reason, detail, evolved))
        else:
            checked.append((it, evolved, round(float(sim), 4)))
    verdicts: dict[int, Any] = {}
    if s.judge and checked:
        for (it, evolved, _), v in zip(checked, llm.chat_many(
                "judge", [format_judge(it.instruction, e) for it, e, _ in checked], parse=parse_judge,
                json_mode=True)):
            verdicts[it.seed_id] = v
    valid = []
    for it, evolved, sim in checked:
        v = verdicts.get(it.seed_id)
        reason, detail = ("judge_error", v.error) if v is not None and not v.ok else \
            (v.value.rejection() if v is not None else ("", ""))
        if reason:
            counts[reason] += 1
            decisions.append(_reject(round_, it, ops[it.seed_id], reason, detail, evolved))
        else:
            valid.append((it, evolved, sim, v.value.reason if v is not None else ""))
    dialogues = build_dialogues(llm, s.dialogue_role, [e for _, e, _, _ in valid],
                                [choose_rounds(rngs[it.seed_id], s.turn_weights) for it, *_ in valid],
                                [it.lang for it, *_ in valid], s.answer_max_tokens)
    candidates = []
    for (it, evolved, sim, why), d in zip(valid, dialogues):
        op = ops[it.seed_id]
        if d.rejected:
            counts[d.rejected] += 1
            decisions.append(_reject(round_, it, op, d.rejected, "the first answer could not be used", evolved))
            continue
        counts["accepted"] += 1
        evidence = {"seed_id": it.seed_id, "operation": op, "similarity": sim, "judge": why,
                    "rounds_wanted": d.rounds_wanted, "rounds": d.rounds, "stopped": d.stopped}
        candidates.append(dict(round=round_, kind="evolved", parent_id=it.conversation_id, operation=op,
                               messages=json.dumps(d.messages, ensure_ascii=False),
                               content_hash=content_hash(d.messages), lang=it.lang, status="pending",
                               evidence=json.dumps(evidence, ensure_ascii=False), created_at=utcnow()))
        decisions.append(dict(round=round_, node="evolver", subject=f"conversation:{it.conversation_id}",
                              action="evolve", reason=f"{op}: {d.rounds} round(s), cosine to seed {sim:.3f}",
                              evidence={**evidence, "evolved": evolved[:800]}))
    return candidates, decisions, counts


def _finish_seeds(res, items: list[SeedItem], accepted: set[int], attempts: dict[int, int]) -> None:
    s = Seed.__table__
    with res.store.engine.begin() as conn:
        for it in items:
            n = attempts[it.seed_id] + 1
            status = "evolved" if it.seed_id in accepted else (
                "exhausted" if n >= res.config.evolution.max_attempts else "selected")
            conn.execute(sa.update(s).where(s.c.id == it.seed_id).values(attempts=n, status=status))


def run(res, round_: int, limit: int | None = None, log: Callable[[str], None] = _stderr) -> dict[str, Any]:
    """Evolve up to ``limit`` (default evolution.max_per_round) pending seeds; also `iloop evolve`."""
    cfg = res.config
    rows = pending_seeds(res.store, cfg.evolution.max_per_round if limit is None else limit)
    counts: Counter = Counter()
    if not rows:
        return {"seeds": 0, "staged": 0, "counts": {}}
    weights = operation_weights(res)
    attempts = {sid: a for sid, _, a in rows}
    items = load_items(res.store, rows)
    too_long = [it for it in items if len(it.instruction) > cfg.evolution.max_seed_chars]
    if too_long:
        s = Seed.__table__
        with res.store.engine.begin() as conn:
            conn.execute(sa.update(s).where(s.c.id.in_([it.seed_id for it in too_long])).values(status="exhausted"))
        res.store.record_decisions([dict(round=round_, node="evolver", subject=f"conversation:{it.conversation_id}",
                                         action="skip_seed", reason=f"instruction has {len(it.instruction)} chars > "
                                         f"evolution.max_seed_chars {cfg.evolution.max_seed_chars}") for it in too_long])
        counts["too_long_seed"] = len(too_long)
    items = [it for it in items if len(it.instruction) <= cfg.evolution.max_seed_chars]
    roles = ["evolver", cfg.evolution.dialogue_role] + (["judge"] if cfg.evolution.judge else [])
    llm = LLM(cfg, res.store, round_)
    staged = 0
    with embedded_servers(cfg, roles):
        for k in range(0, len(items), CHUNK):
            part = items[k:k + CHUNK]
            candidates, decisions, c = evolve_chunk(res, llm, part, attempts, round_, weights)
            if candidates:
                with res.store.engine.begin() as conn:
                    conn.execute(sa.insert(Candidate.__table__), candidates)
            res.store.record_decisions(decisions)
            accepted = {c_["parent_id"] for c_ in candidates}
            _finish_seeds(res, part, {it.seed_id for it in part if it.conversation_id in accepted}, attempts)
            counts.update(c)
            staged += len(candidates)
            log(f"evolve: {min(k + CHUNK, len(items))}/{len(items)} seeds, {staged} staged, "
                f"rejected {sum(v for r, v in counts.items() if r != 'accepted')}")
    llm.close()
    summary = {"seeds": len(rows), "staged": staged, "counts": dict(counts),
               "weights": {op: round(w, 3) for op, w in weights.items()}}
    res.store.record_decision(round_, "evolver", f"round:{round_}", "evolve",
                              f"{staged} of {len(rows)} seeds evolved into dialogues", summary)
    return summary


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = run(res, state.get("db_round", 0))
    rejected = sum(v for r, v in summary["counts"].items() if r != "accepted")
    return {"evolution": {**summary, "metrics": {"evolved_seeds": summary["seeds"], "evolved_staged":
                                                 summary["staged"], "evolution_rejected": rejected}}}
