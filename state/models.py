"""SQL tables (SQLModel). Bulk data lives here; the graph state carries only ids, counts and metrics.

Portable SQL only (SQLite and Postgres): JSON columns are TEXT holding JSON, timestamps are UTC datetimes.
The schema is created and upgraded by the ordered migrations in ``state.migrations``; a test checks that the
migrated schema equals these models.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    id: Optional[int] = Field(default=None, primary_key=True)
    content_hash: str = Field(max_length=64, unique=True, index=True)
    messages: str = Field(sa_column=Column(Text, nullable=False))  # OpenAI messages as JSON
    source: str = Field(max_length=200, index=True)
    source_ref: str = Field(default="", max_length=400)  # file:index or the record's own id
    lang: str = Field(max_length=8, index=True)  # en | zh | other
    origin: str = Field(default="pool", max_length=16, index=True)  # pool | evolved | synthesized
    parent_id: Optional[int] = Field(default=None, foreign_key="conversations.id")
    round_created: int = Field(default=0)
    n_turns: int = Field(default=0)  # assistant replies
    n_chars: int = Field(default=0)
    operation: str = Field(default="", max_length=32)  # evolution operation or synthesis kind
    created_at: datetime = Field(default_factory=utcnow)


class IngestedFile(SQLModel, table=True):
    """One row per (file fingerprint, source): lets the ingest node skip files it has already read."""
    __tablename__ = "ingested_files"
    __table_args__ = (UniqueConstraint("fingerprint", "source"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    path: str = Field(max_length=1000)
    source: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)  # sha256 of size, mtime and the first/last MiB
    records: int = 0
    kept: int = 0
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # reason -> count JSON
    round: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("name", "lang"),)
    id: Optional[int] = Field(default=None, primary_key=True)  # stable across re-normalisations
    name: str = Field(max_length=200, index=True)
    lang: str = Field(max_length=8)
    canonical_id: Optional[int] = Field(default=None, foreign_key="tags.id")  # None = canonical itself
    domain_id: Optional[int] = Field(default=None, foreign_key="domains.id")
    frequency: int = 0
    round_merged: Optional[int] = None
    status: str = Field(default="raw", max_length=16)  # raw | canonical | alias | noise
    created_at: datetime = Field(default_factory=utcnow)


class TagMerge(SQLModel, table=True):
    """Every merge ever made, kept even when the alias is later re-pointed: the taxonomy's history."""
    __tablename__ = "tag_merges"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int
    from_tag_id: int = Field(foreign_key="tags.id", index=True)
    to_tag_id: int = Field(foreign_key="tags.id")
    method: str = Field(max_length=16)  # threshold | alignment | dbscan
    similarity: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class TagAlignment(SQLModel, table=True):
    """How often an English and a Chinese canonical tag were given to the same conversation."""
    __tablename__ = "tag_alignments"
    en_tag_id: int = Field(foreign_key="tags.id", primary_key=True)
    zh_tag_id: int = Field(foreign_key="tags.id", primary_key=True)
    count: int = 0


class ConversationTag(SQLModel, table=True):
    __tablename__ = "conversation_tags"
    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", primary_key=True, index=True)


class Domain(SQLModel, table=True):
    __tablename__ = "domains"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    round_created: int = 0
    status: str = Field(default="active", max_length=16)  # active | retired (a re-induction matched it to none)
    round_retired: Optional[int] = None


class DomainInduction(SQLModel, table=True):
    """One row per (re-)induction of the domain list: the pool size and K it saw decide when to re-induce."""
    __tablename__ = "domain_inductions"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int
    tagged: int  # tagged conversations when induced
    top_k: int  # canonical tags shown to the LLM
    n_domains: int = 0
    method: str = Field(default="", max_length=16)  # direct | cluster
    created_at: datetime = Field(default_factory=utcnow)


class Round(SQLModel, table=True):
    __tablename__ = "rounds"
    id: Optional[int] = Field(default=None, primary_key=True)
    number: int = Field(index=True)
    thread_id: str = Field(max_length=100)
    status: str = Field(default="running", max_length=16)  # running | done | failed | interrupted
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None
    summary: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_round_node", "round", "node"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int
    node: str = Field(max_length=64)
    subject: str = Field(max_length=400)  # e.g. "conversation:123", "tag:45", "file:/x.json"
    action: str = Field(max_length=64)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Metric(SQLModel, table=True):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_round_name", "round", "name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int
    name: str = Field(max_length=128)
    value: float
    created_at: datetime = Field(default_factory=utcnow)


class SteeringPriority(SQLModel, table=True):
    """What the console or the coverage analyst asks later nodes to favour (a domain, a tag, a criterion)."""
    __tablename__ = "steering"
    __table_args__ = (UniqueConstraint("kind", "key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # domain | tag | criterion | operation
    key: str = Field(max_length=200)
    weight: float = 1.0
    set_by: str = Field(default="user", max_length=32)  # user | coverage_analyst
    round: int = 0
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class LLMCall(SQLModel, table=True):
    """The LLM response cache; key = sha256(model, base_url kind, messages, params)."""
    __tablename__ = "llm_calls"
    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=32)
    model: str = Field(max_length=200)
    request: str = Field(sa_column=Column(Text, nullable=False))
    response: str = Field(sa_column=Column(Text, nullable=False))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    round: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class TokenUsage(SQLModel, table=True):
    """Tokens spent per (round, role), cache hits included as zero-token calls."""
    __tablename__ = "token_usage"
    __table_args__ = (UniqueConstraint("round", "role"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int
    role: str = Field(max_length=32)
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rejections: int = 0
    repairs: int = 0


class LossScore(SQLModel, table=True):
    """Cached loss of one conversation under one scoring model (keyed by content, so re-ingests reuse it)."""
    __tablename__ = "loss_scores"
    __table_args__ = (UniqueConstraint("model_key", "content_hash", "kind"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    model_key: str = Field(max_length=200)  # model, adapter fingerprint, token window, scorer version
    content_hash: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=8)  # cond = response given query | resp = response alone (IFD denominator)
    loss: Optional[float] = None  # None = nothing to score (no response token inside the window)
    n_tokens: int = 0
    truncated: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Seed(SQLModel, table=True):
    """A conversation the seed selector chose, with every criterion that chose it and the numbers behind it."""
    __tablename__ = "seeds"
    id: Optional[int] = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", unique=True)
    round: int = Field(index=True)
    strategy: str = Field(max_length=16)  # criteria | ila | both
    criteria: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list, in paper order
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="selected", max_length=16)  # selected | evolved | exhausted
    attempts: int = 0  # evolution attempts made; the evolver gives up after evolution.max_attempts
    created_at: datetime = Field(default_factory=utcnow)


class Candidate(SQLModel, table=True):
    """A generated conversation waiting for the leakage guard; admitted ones become conversations."""
    __tablename__ = "candidates"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int = Field(index=True)
    kind: str = Field(max_length=16)  # evolved | synthesized
    parent_id: Optional[int] = None  # the seed conversation (no FK: a parent may later be removed as a leak)
    operation: str = Field(default="", max_length=32)
    messages: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64, index=True)
    lang: str = Field(max_length=8)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | admitted | leak | duplicate
    conversation_id: Optional[int] = None  # set on admission
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # validation figures
    created_at: datetime = Field(default_factory=utcnow)


class LeakCheck(SQLModel, table=True):
    """A stored conversation checked against one benchmark set (fingerprint): not checked again until it changes."""
    __tablename__ = "leak_checks"
    conversation_id: int = Field(primary_key=True)
    bench_fp: str = Field(max_length=64)
    round: int = 0


class Leak(SQLModel, table=True):
    """A removed item with the benchmark prompt it matched: the report, and enough to restore it by hand."""
    __tablename__ = "leaks"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int = Field(index=True)
    conversation_id: Optional[int] = None  # its id while stored (pool items), None for a rejected candidate
    candidate_id: Optional[int] = None
    origin: str = Field(max_length=16)
    source: str = Field(max_length=200)
    content_hash: str = Field(max_length=64)
    messages: str = Field(sa_column=Column(Text, nullable=False))
    turn: int = 0  # which user turn matched (0 = first)
    benchmark: str = Field(max_length=200)
    bench_ref: str = Field(max_length=200)  # the benchmark record (question id, key, index)
    bench_text: str = Field(sa_column=Column(Text, nullable=False))
    similarity: float
    ngram: float
    llm_verdict: str = Field(default="", max_length=16)  # same | different | error | "" (not asked)
    method: str = Field(max_length=16)  # semantic | ngram | llm
    created_at: datetime = Field(default_factory=utcnow)


ALL_TABLES = [m.__table__ for m in (Conversation, IngestedFile, Domain, DomainInduction, Tag, TagMerge, TagAlignment,
                                    ConversationTag, Round, Decision, Metric, SteeringPriority, LLMCall, TokenUsage,
                                    LossScore, Seed, Candidate, LeakCheck, Leak)]
