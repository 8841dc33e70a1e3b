"""Typed graph state, the contract between the nodes. Bulk data stays in SQL and Chroma; the state carries ids,
counts and metrics only."""
from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import TypedDict


class IloopInput(TypedDict, total=False):
    """What a caller may pass to start a thread."""

    pools: list[str]
    """Files or builtin:NAME pools to ingest; empty = the configured ``ingest.pools``."""
    force_ingest: bool
    """Re-read files whose fingerprint was already ingested (duplicates are still merged)."""


class IloopState(IloopInput, total=False):
    """The state every node reads and updates."""

    round: Annotated[int, operator.add]
    """Loop counter of this thread: begin_round adds 1; the router compares it with ``max_rounds``."""
    steered_settings: dict[str, float]
    """Settings a person steered from the console (settings/steerable.py: budgets, quotas, stop targets), copied
    from the store when the round begins: every node of the round runs with them over the run's configuration."""
    db_round: int
    """Store-wide round number (rounds table) that decisions, metrics and new rows of this round carry."""
    new_conversations: int
    """Conversations added to the store during the current round (ingested, evolved or synthesized)."""
    ingested: Annotated[list[dict[str, Any]], operator.add]
    """One small summary per file the ingest node looked at: path, source, kept, outcome counts."""
    embedded: int
    """Conversations embedded into Chroma during the current round."""
    tagged: int
    """Conversations the tagger gave tags to during the current round."""
    taxonomy: dict[str, Any]
    """The taxonomist's figures: canonical tags per language, graph size, power-law fit."""
    priorities: list[dict[str, Any]]
    """What the coverage analyst asked later nodes to favour this round (kind, key, weight, why)."""
    seeds: dict[str, Any]
    """The seed selector's figures: strategy, new seeds, seeds per criterion, grid cells they cover, and the
    metrics (scored, seeds, loss mean/std, scoring tokens/s) that measure writes with the round's others."""
    evolution: dict[str, Any]
    """The evolver's figures: seeds tried, candidates staged, counts per outcome (accepted and each rejection
    reason), the operation weights used, and the metrics measure writes."""
    diagnosis: dict[str, Any]
    """The oracle diagnoser's figures: items answered, deficient findings, rejections by reason (named_entity,
    copied_example, reply_cut, parse_error), skills mapped and candidate tags, the M_FT that answered, its tokens/s, seconds per step, and the
    metrics measure writes."""
    synthesis: dict[str, Any]
    """The targeted synthesizer's figures: skills served, items asked for and staged, counts per rejection reason,
    the per-skill plan, and the metrics measure writes."""
    leakage: dict[str, Any]
    """The leakage guard's figures: items removed in this thread so far and the last check's summary (pool checked
    and removed, candidates admitted, leaks, duplicates)."""
    metrics: dict[str, float]
    """The measure node's metrics of the current round (also written to the metrics table)."""
    history: Annotated[list[dict[str, float]], operator.add]
    """Per-round key metrics, appended each round; measure reads the last round's growth from it."""
    tokens: Annotated[int, operator.add]
    """LLM tokens (prompt + completion, cache hits free) this thread has spent: measure adds each round's, and
    stops the loop when ``max_tokens`` is reached."""
    stop_reason: str
    """Set by measure each round: '' while the loop goes on, else why it ends (``max_rounds``, ``token_budget`` or
    ``plateau``); the router after measure reads it."""


class IloopOutput(TypedDict, total=False):
    """What `iloop run` prints when the thread ends."""

    round: int
    """Rounds run in this thread."""
    metrics: dict[str, float]
    """Metrics of the last round."""
    history: list[dict[str, float]]
    """Key metrics of every round."""
    tokens: int
    """LLM tokens this thread spent."""
    stop_reason: str
    """Why the loop ended."""
