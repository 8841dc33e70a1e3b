"""Metadata-guided Evol-Instruct over the selected seeds, validation, and 1-4 round dialogues.

For each seed (oldest selected first): a random operation (weights x steering of kind 'operation'), the seed's
tags and domain in the prompt; rule checks and the judge role validate the rewrite; a valid one becomes a
dialogue and is staged as a candidate for the leakage guard. Choices are seeded per (seed, attempt), so a rerun
after a crash asks the same prompts and the LLM cache answers them. Every rejection is a decision with its reason.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from typing import Any

from settings import IloopConfig
from state import candidates, decisions, seeds, steering
from state.candidates import NewCandidate
from state.conversations import load
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.domains import primary_domains
from state.tags import canonical_tags_of, tag_info
from tools.dialogue import build_dialogues
from tools.embedded_server import embedded_servers
from tools.embedder import Embedder
from tools.evolution import (EvolveTask, JudgeTask, SeedItem, choose_operation, choose_rounds, earlier_operations,
                             rule_check)
from tools.formats import content_hash
from tools.instructions import instruction_text
from tools.llm import LLM

logger = logging.getLogger(__name__)
CHUNK = 8  # seeds per stored batch: a crash loses at most this much work


def load_items(store: Store, rows: list[tuple[int, int, int]]) -> list[SeedItem]:
    """SeedItems for (seed id, conversation id, attempts) rows: instruction, language, English tags, domain."""
    ids = [cid for _, cid, _ in rows]
    convs, names = load(store, ids), tag_info(store)
    tags, domains = canonical_tags_of(store, ids), primary_domains(store, ids)
    items = []
    for sid, cid, _ in rows:
        c = convs[cid]
        en = sorted(names[x][0] for x in tags.get(cid, ()) if names.get(x, ("", ""))[1] == "en")
        items.append(SeedItem(sid, cid, instruction_text(c.messages), c.lang, en, domains.get(cid, "")))
    return items


def operation_weights(store: Store, cfg: IloopConfig) -> dict[str, float]:
    steer = steering.weights(store)["operation"]
    return {op: w * steer.get(op, 1.0) for op, w in cfg.evolution.operation_weights.items()}


def _reject(round_: int, item: SeedItem, op: str, reason: str, detail: str, text: str = "") -> DecisionRow:
    return DecisionRow(round_, Node.EVOLVER, f"conversation:{item.conversation_id}", Action.REJECT_EVOLUTION,
                       f"{reason}: {detail}",
                       {"reason": reason, "operation": op, "seed_id": item.seed_id, "evolved": text[:800]})


def evolve_chunk(embedder: Embedder, llm: LLM, cfg: IloopConfig, items: list[SeedItem], attempts: dict[int, int],
                 round_: int, weights: dict[str, float]
                 ) -> tuple[list[NewCandidate], list[DecisionRow], Counter]:
    """Evolve, validate and build dialogues for one chunk; returns (candidates, decisions, reason counts)."""
    s = cfg.evolution_settings()
    rngs = {it.seed_id: random.Random(f"{cfg.seed}:{it.seed_id}:{attempts[it.seed_id]}") for it in items}
    ops = {it.seed_id: choose_operation(rngs[it.seed_id], weights,
                                        earlier_operations(f"{cfg.seed}:{it.seed_id}", attempts[it.seed_id], weights))
           for it in items}
    results = llm.run(EvolveTask("evolver"), [(it, ops[it.seed_id]) for it in items])
    rows, counts, passed = [], Counter(), []
    for it, r in zip(items, results):
        if not r.ok:
            counts["evolver_error"] += 1
            rows.append(_reject(round_, it, ops[it.seed_id], "evolver_error", r.error, r.text))
        else:
            passed.append((it, r.value))
    sims = []
    if passed:
        vecs = embedder.encode([t for it, e in passed for t in (it.instruction, e)])
        sims = (vecs[0::2] * vecs[1::2]).sum(axis=1)
    checked = []
    for (it, evolved), sim in zip(passed, sims):
        reason, detail = rule_check(it, evolved, ops[it.seed_id], float(sim), s)
        if reason:
            counts[reason] += 1
            rows.append(_reject(round_, it, ops[it.seed_id], reason, detail, evolved))
        else:
            checked.append((it, evolved, round(float(sim), 4)))
    verdicts: dict[int, Any] = {}
    if s.judge and checked:
        for (it, _, _), v in zip(checked, llm.run(JudgeTask("judge"), [(it.instruction, e) for it, e, _ in checked])):
            verdicts[it.seed_id] = v
    valid = []
    for it, evolved, sim in checked:
        v = verdicts.get(it.seed_id)
        reason, detail = ("judge_error", v.error) if v is not None and not v.ok else \
            (v.value.rejection() if v is not None else ("", ""))
        if reason:
            counts[reason] += 1
            rows.append(_reject(round_, it, ops[it.seed_id], reason, detail, evolved))
        else:
            valid.append((it, evolved, sim, v.value.reason if v is not None else ""))
    dialogues = build_dialogues(llm, s.dialogue_role, [e for _, e, _, _ in valid],
                                [choose_rounds(rngs[it.seed_id], s.turn_weights) for it, *_ in valid],
                                [it.lang for it, *_ in valid], s.answer_max_tokens)
    staged = []
    for (it, evolved, sim, why), d in zip(valid, dialogues):
        op = ops[it.seed_id]
        if d.rejected:
            counts[d.rejected] += 1
            rows.append(_reject(round_, it, op, d.rejected, "the first answer could not be used", evolved))
            continue
        counts["accepted"] += 1
        evidence = {"seed_id": it.seed_id, "operation": op, "similarity": sim, "judge": why,
                    "rounds_wanted": d.rounds_wanted, "rounds": d.rounds, "stopped": d.stopped}
        staged.append(NewCandidate(round_, "evolved", it.conversation_id, op, d.messages, content_hash(d.messages),
                                   it.lang, evidence))
        rows.append(DecisionRow(round_, Node.EVOLVER, f"conversation:{it.conversation_id}", Action.EVOLVE,
                                f"{op}: {d.rounds} round(s), cosine to seed {sim:.3f}",
                                {**evidence, "evolved": evolved[:800]}))
    return staged, rows, counts


def _seed_outcomes(items: list[SeedItem], accepted: set[int], attempts: dict[int, int], max_attempts: int
                   ) -> dict[int, tuple[str, int]]:
    out = {}
    for it in items:
        n = attempts[it.seed_id] + 1
        out[it.seed_id] = ("evolved" if it.seed_id in accepted else "exhausted" if n >= max_attempts else "selected", n)
    return out


ITEM_ACTIONS = (Action.EVOLVE, Action.REJECT_EVOLUTION, Action.SKIP_SEED)


def round_counts(store: Store, round_: int, after_id: int = 0) -> tuple[set[int], Counter]:
    """(conversation ids of the seeds tried in the round, outcomes: accepted, each rejection reason,
    too_long_seed) from its decisions."""
    done = decisions.round_items(store, round_, Node.EVOLVER, ITEM_ACTIONS, after_id=after_id)
    counts: Counter = Counter("accepted" if a == Action.EVOLVE.value else "too_long_seed" if a == Action.SKIP_SEED.value
                              else ev.get("reason", "unknown") for _, a, ev in done)
    return {int(subject.split(":", 1)[1]) for subject, _, _ in done}, counts


def evolve_pending(store: Store, embedder: Embedder, cfg: IloopConfig, round_: int, limit: int | None = None
                   ) -> dict[str, Any]:
    """Evolve up to ``limit`` (default evolution.max_per_round) pending seeds and stage the valid dialogues. Seeds
    the round already tried (a re-run after a crash) count against the limit, and the figures are the round's."""
    want = cfg.evolution.max_per_round if limit is None else limit
    # round 0 is a stage command's, shared by every such command: only this call's decisions are its own
    after = decisions.last_id(store) if round_ == 0 else 0
    tried, _ = round_counts(store, round_, after)
    left = max(0, want - len(tried)) if want else 0
    # a seed the round already tried (rejected, attempts left) waits for the next round, as it would have without
    # the crash: the round takes the seeds an uninterrupted run would have taken
    rows = seeds.pending(store, left, exclude=tried) if (left or not want) else []
    weights = operation_weights(store, cfg)
    if rows:
        _evolve(store, embedder, cfg, round_, rows, weights)
    tried, counts = round_counts(store, round_, after)
    summary = {"seeds": len(tried), "staged": counts["accepted"], "counts": dict(counts),
               "weights": {op: round(w, 3) for op, w in weights.items()}}
    if tried:
        decisions.record_one(store, round_, Node.EVOLVER, f"round:{round_}", Action.EVOLVE,
                             f"{counts['accepted']} of {len(tried)} seeds evolved into dialogues", summary)
    return summary


def _evolve(store: Store, embedder: Embedder, cfg: IloopConfig, round_: int, rows, weights) -> None:
    attempts = {sid: a for sid, _, a in rows}
    items = load_items(store, rows)
    too_long = [it for it in items if len(it.instruction) > cfg.evolution.max_seed_chars]
    if too_long:
        with store.engine.begin() as conn:
            seeds.set_status(store, {it.seed_id: ("exhausted", None) for it in too_long}, conn)
            decisions.record(store, [DecisionRow(round_, Node.EVOLVER, f"conversation:{it.conversation_id}",
                                                 Action.SKIP_SEED, f"instruction has {len(it.instruction)} chars > "
                                                 f"evolution.max_seed_chars {cfg.evolution.max_seed_chars}")
                                     for it in too_long], conn)
    items = [it for it in items if len(it.instruction) <= cfg.evolution.max_seed_chars]
    roles = ["evolver", cfg.evolution.dialogue_role] + (["judge"] if cfg.evolution.judge else [])
    llm = LLM(cfg, store, round_)
    staged, rejected = 0, 0
    with embedded_servers(cfg, roles):
        for k in range(0, len(items), CHUNK):
            part = items[k:k + CHUNK]
            new, rows_, c = evolve_chunk(embedder, llm, cfg, part, attempts, round_, weights)
            accepted = {n.parent_id for n in new}
            with store.engine.begin() as conn:  # one transaction: a crash re-evolves the whole chunk or none of it
                candidates.stage(store, new, conn)
                decisions.record(store, rows_, conn)
                seeds.set_status(store, _seed_outcomes(part, {it.seed_id for it in part
                                                              if it.conversation_id in accepted},
                                                       attempts, cfg.evolution.max_attempts), conn)
            staged, rejected = staged + len(new), rejected + sum(v for r, v in c.items() if r != "accepted")
            logger.info("evolve: %d/%d seeds, %d staged, rejected %d", min(k + CHUNK, len(items)), len(items), staged,
                        rejected)
    llm.close()
