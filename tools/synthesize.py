"""The targeted synthesizer's work: for each deficient skill of the round, new instructions aimed at it, checked by
the evolver's rules, a near-copy check against every diagnosis item and the judge, answered as 1-4 round
dialogues and staged as candidates (origin ``synthesized``) for the leakage guard, which also rejects near-copies
of benchmark prompts. Every instruction is a synthesis row linked to the skill and the findings that asked for it.

A round is synthesized once: its rows and its summary decision are written in one transaction, the summary also
when there was nothing to ask, and the summary marks the round done (state.syntheses.done_rounds); a resumed round
that wrote it asks nothing, and one that had not asks the same prompts again, which the LLM cache answers.
"""
from __future__ import annotations

import logging
import random
import re
from collections import Counter
from typing import Any

import numpy as np

from settings import IloopConfig
from state import decisions, diagnosis, steering, syntheses
from state.candidates import NewCandidate
from state.conversations import load
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.syntheses import NewSynthesis
from tools.dialogue import build_dialogues
from tools.embedded_server import embedded_servers
from tools.evolution import SeedItem, choose_rounds, rule_check
from tools.formats import content_hash
from tools.instructions import instruction_text
from tools.leakage import ngrams, tokens
from tools.llm import LLM
from tools.synthesis import JudgeSynthesisTask, SkillPlan, SynthesizeTask, group_examples, plan_skills

logger = logging.getLogger(__name__)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _diagnosis_space(store: Store, embedder) -> tuple[list[str], np.ndarray]:
    """Every diagnosis item's instruction and its vector: what a synthesized item must not copy."""
    ids = [it.conversation_id for it in diagnosis.items(store)]
    convs = load(store, ids)
    texts = [instruction_text(convs[i].messages) for i in ids if i in convs]
    return texts, (embedder.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32))


def check_rules(cfg: IloopConfig, embedder, plan: SkillPlan, texts: list[str], diag_texts: list[str],
                diag_vecs: np.ndarray) -> list[tuple[str, str, float]]:
    """(reason, detail, max cosine to a diagnosis item) per instruction: the evolver's rule checks with the nearest
    diagnosis item in the seed's place, so 'unchanged' there means a near-copy here; and a span of
    ``synthesis.copy_span_tokens`` tokens copied verbatim from any diagnosis item is a near-copy too (an example
    sentence pasted into a new task carries the held-out item into the training data), and so is a whole shorter
    diagnosis item in English of 6 words or more ("List the three primary colours of paint."; shorter ones, "Tell me
    a joke.", and Chinese ones under the span are common phrases, not a held-out item)."""
    s = cfg.evolution_settings().model_copy(update={"max_similarity": cfg.synthesis_settings().max_similarity})
    n = cfg.synthesis.copy_span_tokens
    spans = set().union(*(ngrams(tokens(t), n) for t in diag_texts if len(tokens(t)) >= n)) if diag_texts else set()
    short = {tuple(w) for w in map(tokens, diag_texts) if 6 <= len(w) < n and not any(_CJK.match(x) for x in w)}
    vecs = embedder.encode(texts)
    sims = vecs @ diag_vecs.T if len(diag_texts) else np.zeros((len(texts), 0))
    out = []
    for text, row in zip(texts, sims):
        k = int(np.argmax(row)) if row.size else -1
        sim = float(row[k]) if k >= 0 else 0.0
        nearest = SeedItem(0, 0, diag_texts[k] if k >= 0 else "", plan.lang, [], plan.domain)
        reason, detail = rule_check(nearest, text, "breadth", sim, s)
        if reason == "unchanged":
            reason, detail = "near_copy", f"cosine {sim:.3f} to diagnosis item {diag_texts[k][:80]!r}"
        elif not reason and len(tokens(text)) >= n and ngrams(tokens(text), n) & spans:
            copied = " ".join(next(iter(ngrams(tokens(text), n) & spans)))
            reason, detail = "near_copy", f"copies {n} tokens of a diagnosis item verbatim: {copied[:80]!r}"
        elif not reason and (whole := _contains(tokens(text), short)):
            reason, detail = "near_copy", f"contains a whole diagnosis item verbatim: {' '.join(whole)[:80]!r}"
        out.append((reason, detail, round(sim, 4)))
    return out


def _contains(words: list[str], items: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first of ``items`` (token sequences) that occurs contiguously in ``words``."""
    for item in sorted(items):
        k = len(item)
        if any(tuple(words[i:i + k]) == item for i in range(len(words) - k + 1)):
            return item
    return None


def summary_decision(round_: int, summary: dict[str, Any], skills: int) -> DecisionRow:
    """The round's summary decision: its figures, and the mark that the round is done (syntheses.done_rounds)."""
    return DecisionRow(round_, Node.TARGETED_SYNTHESIZER, f"round:{round_}", Action.SYNTHESIZE,
                       f"{summary['staged']} of {summary['asked']} targeted items staged for {skills} skills", summary)


def synthesize_round(store: Store, embedder, cfg: IloopConfig, round_: int, limit: int | None = None
                     ) -> dict[str, Any]:
    """Write, check, answer and stage the round's targeted items; returns the figures."""
    if round_ in syntheses.done_rounds(store):  # a resumed round: the summary it stored with its rows
        stored = decisions.evidence_of(store, Node.TARGETED_SYNTHESIZER, Action.SYNTHESIZE, f"round:{round_}")
        return {**stored[-1], "resumed": True}
    s = cfg.synthesis_settings()
    if limit is not None:
        s = s.model_copy(update={"max_per_round": limit})
    w = steering.weights(store)
    plans = plan_skills(diagnosis.deficient_findings(store, round_), w["tag"], w["domain"], s)
    if not plans:  # nothing to ask (no deficient skill, every weight 0, a limit of 0): the round is still done
        summary = {"skills": 0, "asked": 0, "staged": 0, "counts": {}, "plan": []}
        syntheses.add(store, round_, [], [], [summary_decision(round_, summary, 0)])
        return summary
    convs = load(store, sorted({i for p in plans for i in p.example_ids}))
    group_examples(plans, {i: instruction_text(c.messages) for i, c in convs.items()},
                   {i: c.lang for i, c in convs.items()}, s.example_chars, s.examples)
    diag_texts, diag_vecs = _diagnosis_space(store, embedder)
    llm = LLM(cfg, store, round_)
    roles = ["synthesizer", cfg.evolution.dialogue_role] + (["judge"] if s.judge else [])
    counts: Counter = Counter()
    rows: list[NewSynthesis] = []
    staged: list[NewCandidate | None] = []
    decided: list[DecisionRow] = []

    def reject(p: SkillPlan, text: str, reason: str, detail: str) -> None:
        counts[reason] += 1
        rows.append(NewSynthesis(p.skill_id, p.finding_ids, text, "rejected", reason, detail[:400]))
        staged.append(None)
        decided.append(DecisionRow(round_, Node.TARGETED_SYNTHESIZER, f"skill:{p.skill_id}", Action.REJECT_SYNTHESIS,
                                   f"{reason}: {detail[:200]}", {"skill": p.name, "reason": reason,
                                                                 "instruction": text[:800]}))

    with embedded_servers(cfg, roles):
        written = llm.run(SynthesizeTask("synthesizer", s.answer_max_tokens), plans)
        passed: list[tuple[SkillPlan, str, float]] = []
        for p, r in zip(plans, written):
            if not r.ok:
                reject(p, "", "synthesizer_error", r.error)
                continue
            for text, (reason, detail, sim) in zip(r.value, check_rules(cfg, embedder, p, r.value, diag_texts,
                                                                         diag_vecs)):
                if reason:
                    reject(p, text, reason, detail)
                else:
                    passed.append((p, text, sim))
        verdicts = llm.run(JudgeSynthesisTask("judge"), [(p.name, t) for p, t, _ in passed]) if s.judge else []
        valid = []
        for k, (p, text, sim) in enumerate(passed):
            v = verdicts[k] if verdicts else None
            reason, detail = ("judge_error", v.error) if v is not None and not v.ok else \
                (v.value.rejection() if v is not None else ("", ""))
            if reason:
                reject(p, text, reason, detail)
            else:
                valid.append((p, text, sim, v.value.reason if v is not None else ""))
        rngs = [random.Random(f"{cfg.seed}:synth:{round_}:{p.skill_id}:{k}") for k, (p, *_) in enumerate(valid)]
        dialogues = build_dialogues(llm, cfg.evolution.dialogue_role, [t for _, t, _, _ in valid],
                                    [choose_rounds(r, cfg.evolution.turn_weights) for r in rngs],
                                    [p.lang for p, *_ in valid], s.answer_max_tokens)
    llm.close()
    for (p, text, sim, why), d in zip(valid, dialogues):
        if d.rejected:
            reject(p, text, d.rejected, "the first answer could not be used")
            continue
        counts["staged"] += 1
        evidence = {"skill": p.name, "skill_id": p.skill_id, "finding_ids": p.finding_ids, "domain": p.domain,
                    "diagnosis_similarity": sim, "judge": why, "rounds": d.rounds}
        rows.append(NewSynthesis(p.skill_id, p.finding_ids, text, "staged"))
        staged.append(NewCandidate(round_, "synthesized", None, "targeted", d.messages, content_hash(d.messages),
                                   p.lang, evidence))
        decided.append(DecisionRow(round_, Node.TARGETED_SYNTHESIZER, f"skill:{p.skill_id}", Action.SYNTHESIZE,
                                   f"for '{p.name}': {d.rounds} round(s), cosine to nearest diagnosis item {sim:.3f}",
                                   {**evidence, "instruction": text[:800]}))
    summary = {"skills": len(plans), "asked": sum(p.n for p in plans), "staged": counts["staged"],
               "counts": dict(counts), "plan": [{"skill": p.name, "n": p.n, "weight": p.weight} for p in plans]}
    decided.append(summary_decision(round_, summary, len(plans)))
    syntheses.add(store, round_, rows, staged, decided)  # one transaction: candidates, syntheses, decisions
    logger.info("synthesize: %s", {k: v for k, v in summary.items() if k != "plan"})
    return summary
