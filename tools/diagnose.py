"""The oracle diagnoser's work (method.md section 4): a fresh held-out sample, M_FT's answers, the oracle's findings,
the missing skills mapped to canonical tags, every step a decision.

Order each round: (1) the round's diagnosis sample: the seed selector drew it before evolution (tools/diagnosis_set.py);
a stage command with none draws it here; (2) M_FT for diagnosis: the scoring model LoRA-tuned on the
DATASET (a domain-balanced subset of the seeds plus every admitted evolved and synthesized item), re-trained when
it trained on an item now held out, ``diagnosis.refresh_new_items`` new generated items arrived, or the subset grew
past ``diagnosis.refresh_growth``; (3) M_FT answers
(tools/mft_answer.py); (4) the oracle compares each answer with the reference (tools/oracle.py); (5) skills map to
canonical tags or become candidate tags (tools/skill_map.py).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from settings import IloopConfig
from state import decisions, diagnosis
from state.conversations import load
from state.dataset import dataset_parts
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.diagnosis import NewFinding, NewSkill
from state.domains import canonical_tags, primary_domains
from tools.diagnosis_set import hold_out_round
from tools.embedded_server import embedded_servers
from tools.finetune import NO_DOMAIN, finetune, latest_adapter, needs_refresh
from tools.llm import LLM
from tools.loss_scorer import scorer_from_config
from tools.mft_answer import MFTAnswerer, query_of
from tools.oracle import COPY_PREFIX, ENTITY_PREFIX, DiagnoseTask, OracleItem
from tools.skill_map import map_skills

logger = logging.getLogger(__name__)
POINTER = "diagnosis"


def _settings(cfg: IloopConfig):
    d = cfg.diagnosis
    return cfg.finetune.model_copy(update={"per_domain": d.finetune_per_domain or cfg.finetune.per_domain,
                                           "refresh_growth": d.refresh_growth})


def ensure_diagnosis_mft(store: Store, cfg: IloopConfig, scorer, round_: int):
    """(adapter, why it was trained or '' when the last one still fits)."""
    held = diagnosis.held_out_ids(store)
    seeds, generated = ([i for i in part if i not in held] for part in dataset_parts(store))
    domain_of = dict(primary_domains(store, seeds))
    domain_of.update({i: NO_DOMAIN for i in seeds if i not in domain_of})
    settings = _settings(cfg)
    current = latest_adapter(cfg.home, POINTER)
    why = needs_refresh(current, domain_of, settings, scorer.name)
    if not why and current is not None:
        trained = set(current.card.get("train_ids", []))
        seen_held = trained & held
        new = sorted(set(generated) - trained)
        if seen_held:  # it must never answer a query it trained on
            why = f"the last M_FT trained on {len(seen_held)} item(s) now held out for diagnosis"
        elif len(new) >= cfg.diagnosis.refresh_new_items:
            why = f"{len(new)} generated item(s) in the dataset the last M_FT did not train on"
    if not why:
        return current, ""
    adapter = finetune(store, scorer, domain_of, settings, cfg.home, cfg.seed + round_, extra_ids=generated,
                       pointer=POINTER)
    card = adapter.card
    decisions.record_one(store, round_, Node.ORACLE_DIAGNOSER, f"adapter:{adapter.fingerprint}", Action.FINETUNE,
                         why, {k: card.get(k) for k in ("base", "conversations", "extra_conversations", "steps",
                                                        "domains", "train_loss_first", "train_loss_last")})
    return adapter, why


def _decision(round_: int, it, f: NewFinding) -> DecisionRow:
    subject = f"conversation:{it.conversation_id}"
    if f.status == "rejected":
        return DecisionRow(round_, Node.ORACLE_DIAGNOSER, subject, Action.REJECT_FINDING,
                           f"{f.reject_reason}: {f.detail.get('error', '')[:200]}",
                           {"item_id": it.id, "reason": f.reject_reason})
    verdict = f"deficient (severity {f.severity}): {', '.join(f.detail['skills'])}" if f.deficient else "fine"
    return DecisionRow(round_, Node.ORACLE_DIAGNOSER, subject, Action.DIAGNOSE, f"{verdict}; {f.description[:200]}",
                       {"item_id": it.id, "deficient": f.deficient, "severity": f.severity,
                        "skills": f.detail["skills"], "domain": it.domain, "truncated": f.truncated})


def _finding(item, adapter: str, answer, result) -> NewFinding:
    base = dict(item_id=item.id, adapter=adapter, answer=answer.text, answer_tokens=answer.tokens,
                truncated=answer.truncated)
    if not result.ok:
        reason = ("named_entity" if ENTITY_PREFIX in result.error else
                  "copied_example" if COPY_PREFIX in result.error else
                  "reply_cut" if "cut off" in result.error else "parse_error")
        return NewFinding(**base, status="rejected", reject_reason=reason,
                          detail={"error": result.error[:400], "reply": result.text[:800]})
    v = result.value
    return NewFinding(**base, status="ok", deficient=v.deficient, severity=v.severity, description=v.description,
                      detail={"skills": v.skills})


def map_findings(store: Store, cfg: IloopConfig, space, round_: int, items, findings: list[NewFinding]
                 ) -> tuple[list[list[tuple[NewSkill, str, float]]], dict[str, int], list[DecisionRow]]:
    """The skills of every usable deficient finding mapped to tags or candidate tags: (per finding its skills with
    phrase and cosine, figures, a candidate_tag decision per unmapped skill)."""
    tags = [(t.id, t.name) for t in canonical_tags(store, "en")] or [(t.id, t.name) for t in canonical_tags(store)]
    wanted = [(it, f.detail["skills"]) if f.status == "ok" and f.deficient else (it, []) for it, f in zip(items, findings)]
    phrases = sorted({p for _, skills in wanted for p in skills})
    threshold = cfg.diagnosis.threshold_for(cfg.embedding.model)
    matches = {m.phrase: m for m in map_skills(phrases, tags, space, threshold)}
    first_domain: dict[str, str] = {}
    for it, skills in wanted:
        for p in skills:
            first_domain.setdefault(matches[p].key, it.domain)
    new = {m.key: NewSkill(m.key, m.name, m.tag_id, m.similarity, "mapped" if m.tag_id is not None else "candidate",
                           first_domain[m.key]) for m in matches.values()}
    per_finding = [[(new[matches[p].key], p, matches[p].similarity) for p in skills] for _, skills in wanted]
    rows = [DecisionRow(round_, Node.ORACLE_DIAGNOSER, f"skill:{m.phrase}", Action.CANDIDATE_TAG,
                        f"no canonical tag within cosine {threshold} (nearest '{m.tag_name}' at {m.similarity:.3f})",
                        {"nearest": m.tag_name, "similarity": m.similarity})
            for m in matches.values() if m.tag_id is None]
    figures = {"skills_named": len(phrases), "mapped": sum(m.tag_id is not None for m in matches.values()),
               "candidate_tags": sum(m.tag_id is None for m in matches.values())}
    return per_finding, figures, rows


def diagnose_round(store: Store, assets, space, cfg: IloopConfig, round_: int, limit: int | None = None
                   ) -> dict[str, Any]:
    """Draw (once per round), answer with M_FT, judge with the oracle, map and record; returns the figures."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    drawn = hold_out_round(store, cfg, round_, Node.ORACLE_DIAGNOSER, limit)
    items = diagnosis.items(store, round_, undiagnosed=True)
    summary: dict[str, Any] = {"drawn": drawn, "items": len(items), "deficient": 0, "rejected": {}}
    if not items:  # nothing drawn, or a resumed round that had diagnosed its sample: its stored summary
        stored = decisions.evidence_of(store, Node.ORACLE_DIAGNOSER, Action.DIAGNOSE, f"round:{round_}")
        return {**stored[-1], "resumed": True} if stored else summary
    base = scorer_from_config(cfg, assets)
    adapter, why = ensure_diagnosis_mft(store, cfg, base, round_)
    timings["finetune_s"] = round(time.perf_counter() - t0, 1)
    convs = load(store, [it.conversation_id for it in items])
    pairs = [query_of(convs[it.conversation_id].messages) for it in items]
    t1 = time.perf_counter()
    answerer = MFTAnswerer(scorer_from_config(cfg, assets, adapter=adapter.path), cfg.diagnosis)
    answers = answerer.answer([q for q, _ in pairs])
    timings["answer_s"] = round(time.perf_counter() - t1, 1)
    t2 = time.perf_counter()
    task = DiagnoseTask("oracle", cfg.diagnosis.reference_chars)
    oracle_items = [OracleItem("\n\n".join(m["content"] for m in q if m["role"] == "user"), ref, a.text)
                    for (q, ref), a in zip(pairs, answers)]
    llm = LLM(cfg, store, round_)
    with embedded_servers(cfg, ["oracle"]):
        results = llm.run(task, oracle_items)
    llm.close()
    timings["oracle_s"] = round(time.perf_counter() - t2, 1)
    findings = [_finding(it, adapter.fingerprint, a, r) for it, a, r in zip(items, answers, results)]
    t3 = time.perf_counter()
    skills, mapping, rows = map_findings(store, cfg, space, round_, items, findings)
    timings["map_s"] = round(time.perf_counter() - t3, 1)
    rows += [_decision(round_, it, f) for it, f in zip(items, findings)]
    rejected: dict[str, int] = {}
    for f in findings:
        if f.status == "rejected":
            rejected[f.reject_reason] = rejected.get(f.reject_reason, 0) + 1
    summary.update(deficient=sum(f.status == "ok" and f.deficient for f in findings), rejected=rejected,
                   adapter=adapter.fingerprint, retrained=why, **mapping,
                   answer_tokens=sum(a.tokens for a in answers), answer_tokens_per_s=round(answerer.tokens_per_s, 2),
                   truncated=sum(a.truncated for a in answers), timings=timings)
    rows.append(DecisionRow(round_, Node.ORACLE_DIAGNOSER, f"round:{round_}", Action.DIAGNOSE,
                            f"{summary['deficient']} of {len(items)} answers deficient; {mapping['mapped']} skills "
                            f"mapped, {mapping['candidate_tags']} candidate tags", summary))
    # findings, skills, links and the decisions that explain them land together: a kill leaves all or none
    diagnosis.add_findings(store, round_, findings, skills, rows)
    logger.info("diagnose: %s", summary)
    return summary
