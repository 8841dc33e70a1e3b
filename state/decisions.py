"""Decisions: why every node did what it did, one row per choice, written through one typed recorder.

Node and action names come from the two enumerations below, so a reader of the decisions table (the console,
``iloop stats``, a SQL query) can rely on the spelling; a new kind of decision adds a member here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.models import Decision, utcnow


class Node(str, Enum):
    """The node (or stage command) that made a decision."""

    BEGIN_ROUND = "begin_round"
    INGEST = "ingest"
    EMBED = "embed"
    LEAKAGE_GUARD = "leakage_guard"
    TAGGER = "tagger"
    TAXONOMIST = "taxonomist"
    COVERAGE_ANALYST = "coverage_analyst"
    SEED_SELECTOR = "seed_selector"
    EVOLVER = "evolver"
    ORACLE_DIAGNOSER = "oracle_diagnoser"
    TARGETED_SYNTHESIZER = "targeted_synthesizer"
    MEASURE = "measure"
    FINISH = "finish"
    CONSOLE = "console"  # a person's steering, run control and review answers


class Action(str, Enum):
    """What was decided."""

    START = "start"
    INGEST = "ingest"
    SKIP_FILE = "skip_file"
    EMBED = "embed"
    CHECK = "check"
    REMOVE_LEAK = "remove_leak"
    TAG = "tag"
    REJECT_REPLY = "reject_reply"
    NORMALIZE = "normalize"
    INDUCE = "induce"
    PRIORITIZE = "prioritize"
    FINETUNE = "finetune"
    SELECT = "select"
    SELECT_SEED = "select_seed"
    NEAR_MISS = "near_miss"
    SKIP_SEED = "skip_seed"
    EVOLVE = "evolve"
    REJECT_EVOLUTION = "reject_evolution"
    STOP = "stop"
    CONTINUE = "continue"  # measure: coverage or depth still grows, another round runs
    SCORE = "score"  # measure: the dataset and reference items it scores this round (kept for a re-run)
    INTERRUPT = "interrupt"  # a round left running by a killed process
    ADD_DOMAIN = "add_domain"  # a re-induced domain that matches no existing one
    MERGE_DOMAINS = "merge_domains"  # several existing domains fell into one re-induced domain
    SPLIT_DOMAIN = "split_domain"  # one existing domain's tags spread over several re-induced domains
    RETIRE_DOMAIN = "retire_domain"  # an existing domain no re-induced domain matches
    REMAP = "remap"  # which tags a re-induction sends back to the mapper
    EXTEND_DOMAINS = "extend_domains"  # new domains proposed for the tags in 'other' (tools/domain_extend.py)
    HOLD_OUT = "hold_out"  # seeds set aside as diagnosis items, for good
    DIAGNOSE = "diagnose"  # the oracle's finding on one diagnosis item (or a round's summary)
    REJECT_FINDING = "reject_finding"  # a finding that named an entity or could not be parsed
    CANDIDATE_TAG = "candidate_tag"  # a missing skill no canonical tag is close to
    SYNTHESIZE = "synthesize"  # a targeted item staged for the leakage guard (or a round's summary)
    REJECT_SYNTHESIS = "reject_synthesis"  # a targeted item that failed a check
    STEER = "steer"  # console: a steering weight or setting saved or reset (evidence: old, new, who)
    START_RUN = "start_run"  # console: a run started in the background
    PAUSE_RUN = "pause_run"  # a pause asked for (console) or taken after a node (the run)
    STOP_RUN = "stop_run"  # console: the run's process was terminated
    REVIEW = "review"  # review mode: the run stopped before a node, or a person's answer (approve or skip)
    DROP_SEED = "drop_seed"  # review: a person removed a seed before evolution


@dataclass
class DecisionRow:
    """One decision; ``subject`` names what it is about: "conversation:12", "tag:python", "round:3"."""

    round: int
    node: Node
    subject: str
    action: Action
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def record(store: Store, rows: list[DecisionRow], conn: sa.Connection | None = None) -> None:
    """Write decisions in bulk (the seed selector writes one per seed: possibly hundreds of thousands); ``conn``:
    inside the caller's transaction, so the rows a decision explains and the decision land together."""
    if not rows:
        return
    now = utcnow()
    values = []
    for r in rows:
        if not isinstance(r.node, Node) or not isinstance(r.action, Action):
            raise TypeError(f"decision node/action must be Node/Action members, got {r.node!r}/{r.action!r}")
        values.append(dict(round=r.round, node=r.node.value, subject=str(r.subject)[:400], action=r.action.value,
                           reason=r.reason, created_at=now,
                           evidence=json.dumps(r.evidence or {}, ensure_ascii=False, default=str)))
    if conn is not None:
        for k in range(0, len(values), 20_000):
            conn.execute(sa.insert(Decision.__table__), values[k:k + 20_000])
        return
    with store.engine.begin() as own:
        record(store, rows, own)


def record_one(store: Store, round_: int, node: Node, subject: str, action: Action, reason: str = "",
               evidence: dict[str, Any] | None = None, replaces: tuple[Action, ...] = ()) -> None:
    """One decision. A loop round's summary (subject ``round:<n>...``) is one row per node and action: written again,
    as a node re-run after a crash writes it, it replaces the earlier row in the same transaction (and rows of the
    ``replaces`` actions: a re-run may decide otherwise). Round 0 is the stage commands' shared one: each of their
    summaries is kept."""
    with store.engine.begin() as conn:
        if round_ > 0 and subject.startswith("round:"):
            d = Decision.__table__
            conn.execute(sa.delete(d).where(d.c.round == round_, d.c.node == node.value, d.c.subject == subject,
                                            d.c.action.in_([a.value for a in (action, *replaces)])))
        record(store, [DecisionRow(round_, node, subject, action, reason, evidence or {})], conn)


def counts_by_node(store: Store) -> dict[str, int]:
    d = Decision.__table__
    with store.engine.connect() as conn:
        return {str(k): int(v) for k, v in conn.execute(sa.select(d.c.node, sa.func.count()).group_by(d.c.node))}


def evidence_of(store: Store, node: Node, action: Action, subject: str | None = None) -> list[dict[str, Any]]:
    """Evidence of a node's decisions of one action, oldest first (``subject``: only those about it)."""
    d = Decision.__table__
    q = sa.select(d.c.evidence).where(d.c.node == node.value, d.c.action == action.value)
    if subject is not None:
        q = q.where(d.c.subject == subject)
    with store.engine.connect() as conn:
        return [json.loads(e) for e in conn.execute(q.order_by(d.c.id)).scalars()]


def last_id(store: Store) -> int:
    d = Decision.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(d.c.id))).scalar() or 0


def round_items(store: Store, round_: int, node: Node, actions: tuple[Action, ...], prefix: str = "conversation:",
                after_id: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, action, evidence) of a node's per-item decisions in one round (newer than ``after_id``), oldest
    first: what a node re-run after a crash already did in the round."""
    d = Decision.__table__
    q = sa.select(d.c.subject, d.c.action, d.c.evidence).where(
        d.c.round == round_, d.c.node == node.value, d.c.action.in_([a.value for a in actions]),
        d.c.subject.like(f"{prefix}%"), d.c.id > after_id).order_by(d.c.id)
    with store.engine.connect() as conn:
        return [(s, a, json.loads(e)) for s, a, e in conn.execute(q)]


def count(store: Store, node: Node, action: Action, subject_prefix: str = "") -> int:
    d = Decision.__table__
    q = sa.select(sa.func.count()).where(d.c.node == node.value, d.c.action == action.value)
    if subject_prefix:
        q = q.where(d.c.subject.like(f"{subject_prefix}%"))
    with store.engine.connect() as conn:
        return conn.execute(q).scalar() or 0


def actions_about(store: Store, subjects: list[str]) -> list[tuple[str, str, str]]:
    """(subject, node, action) of every decision about the given subjects (export's selection reasons)."""
    d = Decision.__table__
    out: list[tuple[str, str, str]] = []
    with store.engine.connect() as conn:
        for k in range(0, len(subjects), 900):
            out += [tuple(r) for r in conn.execute(sa.select(d.c.subject, d.c.node, d.c.action)
                                                   .where(d.c.subject.in_(subjects[k:k + 900])))]
    return out


def recent(store: Store, node: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The newest decisions (optionally of one node) as dicts, for the console."""
    d = Decision.__table__
    q = sa.select(d.c.round, d.c.node, d.c.subject, d.c.action, d.c.reason, d.c.evidence).order_by(d.c.id.desc())
    if node:
        q = q.where(d.c.node == node)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.limit(limit)).mappings()]


def search(store: Store, round_: int | None = None, node: str | None = None, action: str | None = None,
           text: str = "", page: int = 0, page_size: int = 50) -> tuple[int, list[dict[str, Any]]]:
    """(matching rows, one page of them newest first): the console's decision log, filtered by round, node,
    action and a text that the reason or subject contains (case-insensitive)."""
    d = Decision.__table__
    where = []
    if round_ is not None:
        where.append(d.c.round == round_)
    if node:
        where.append(d.c.node == node)
    if action:
        where.append(d.c.action == action)
    if text:
        like = f"%{text.lower()}%"
        where.append(sa.or_(sa.func.lower(d.c.reason).like(like), sa.func.lower(d.c.subject).like(like)))
    q = sa.select(d.c.id, d.c.round, d.c.node, d.c.subject, d.c.action, d.c.reason, d.c.evidence, d.c.created_at)
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(d).where(*where)).scalar() or 0
        rows = conn.execute(q.where(*where).order_by(d.c.id.desc()).offset(page * page_size).limit(page_size))
        return total, [dict(r) for r in rows.mappings()]


def facets(store: Store, round_: int | None = None) -> dict[str, list[str]]:
    """The nodes and actions present (in one round, or all): the choices of the console's filters."""
    d = Decision.__table__
    where = [] if round_ is None else [d.c.round == round_]
    with store.engine.connect() as conn:
        return {"node": sorted(conn.execute(sa.select(d.c.node).where(*where).distinct()).scalars()),
                "action": sorted(conn.execute(sa.select(d.c.action).where(*where).distinct()).scalars())}
