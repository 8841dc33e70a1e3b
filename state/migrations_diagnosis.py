"""Migration step 7 (frozen once released, like every step in ``state.migrations``): the fourth stage's tables."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def m7_diagnosis(op: Operations) -> None:
    """Version 7: diagnosis split, findings, skills (the ledger), finding-skill links, syntheses."""
    op.create_table(
        "diagnosis_items", _id(),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False, unique=True),
        sa.Column("seed_id", sa.Integer, sa.ForeignKey("seeds.id"), nullable=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("domain", sa.String(200), nullable=False),
        sa.Column("criterion", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_diagnosis_items_round", "diagnosis_items", ["round"])
    op.create_table(
        "findings", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("diagnosis_items.id"), nullable=False),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("answer_tokens", sa.Integer, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.String(32), nullable=False),
        sa.Column("deficient", sa.Boolean, nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_findings_round", "findings", ["round"])
    op.create_index("ix_findings_item_id", "findings", ["item_id"])
    op.create_table(
        "skills", _id(),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), nullable=True),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(200), nullable=False),
        sa.Column("first_round", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "finding_skills",
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("findings.id"), primary_key=True),
        sa.Column("skill_id", sa.Integer, sa.ForeignKey("skills.id"), primary_key=True),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
    )
    op.create_index("ix_finding_skills_skill_id", "finding_skills", ["skill_id"])
    op.create_table(
        "syntheses", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("skill_id", sa.Integer, sa.ForeignKey("skills.id"), nullable=False),
        sa.Column("finding_ids", sa.Text, nullable=False),
        sa.Column("instruction", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("candidate_id", sa.Integer, sa.ForeignKey("candidates.id"), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_syntheses_round", "syntheses", ["round"])
    op.create_index("ix_syntheses_skill_id", "syntheses", ["skill_id"])
