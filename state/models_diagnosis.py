"""SQL tables of the fourth stage: the held-out diagnosis split, the oracle's findings, the skills they name (the
skill ledger's rows) and the targeted syntheses made for them. Same rules as ``state.models``; created by
migration 7 (``state.migrations``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from state.models import utcnow


class DiagnosisItem(SQLModel, table=True):
    """A seed set aside for diagnosis, for good: never evolved, never in a fine-tuning subset."""
    __tablename__ = "diagnosis_items"
    id: Optional[int] = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", unique=True)
    seed_id: Optional[int] = Field(default=None, foreign_key="seeds.id")
    round: int = Field(index=True)  # drawn in this round (a fresh sample is answered in the round it is drawn)
    domain: str = Field(default="", max_length=200)
    criterion: str = Field(default="", max_length=16)  # the seed's first criterion (the stratum with the domain)
    created_at: datetime = Field(default_factory=utcnow)


class Finding(SQLModel, table=True):
    """The oracle's verdict on M_FT's answer to one diagnosis item."""
    __tablename__ = "findings"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int = Field(index=True)
    item_id: int = Field(foreign_key="diagnosis_items.id", index=True)
    adapter: str = Field(max_length=64)  # fingerprint of the M_FT that answered
    answer: str = Field(sa_column=Column(Text, nullable=False))
    answer_tokens: int = 0
    truncated: bool = False  # M_FT's answer hit diagnosis.answer_max_tokens
    status: str = Field(default="ok", max_length=16)  # ok | rejected (reject_reason: named_entity, copied_example, reply_cut, parse_error)
    reject_reason: str = Field(default="", max_length=32)
    deficient: bool = False
    severity: int = 0  # 0 none, 1 minor, 2 clear, 3 severe
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # skills as written, oracle text
    created_at: datetime = Field(default_factory=utcnow)


class Skill(SQLModel, table=True):
    """A skill the oracle named: mapped to a canonical tag, or a candidate new tag (its phrase). The ledger's row."""
    __tablename__ = "skills"
    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, unique=True)  # "tag:<id>" or "phrase:<normalised phrase>"
    name: str = Field(max_length=200)
    tag_id: Optional[int] = Field(default=None, foreign_key="tags.id")
    similarity: float = 0.0  # cosine of the first phrase to its tag (or to the nearest tag, for a candidate)
    status: str = Field(default="mapped", max_length=16)  # mapped | candidate
    domain: str = Field(default="", max_length=200)
    first_round: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class FindingSkill(SQLModel, table=True):
    """Which skills a finding named, with the phrase the oracle wrote."""
    __tablename__ = "finding_skills"
    finding_id: int = Field(foreign_key="findings.id", primary_key=True)
    skill_id: int = Field(foreign_key="skills.id", primary_key=True, index=True)
    phrase: str = Field(max_length=200)
    similarity: float = 0.0


class Synthesis(SQLModel, table=True):
    """One instruction the synthesizer wrote for a skill: rejected with its reason, or staged as a candidate (whose
    status says whether it was admitted)."""
    __tablename__ = "syntheses"
    id: Optional[int] = Field(default=None, primary_key=True)
    round: int = Field(index=True)
    skill_id: int = Field(foreign_key="skills.id", index=True)
    finding_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    instruction: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="staged", max_length=16)  # staged | rejected
    reason: str = Field(default="", max_length=32)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    candidate_id: Optional[int] = Field(default=None, foreign_key="candidates.id")
    created_at: datetime = Field(default_factory=utcnow)
