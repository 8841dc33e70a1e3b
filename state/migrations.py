"""Ordered schema migrations, frozen: never edit a released step, append a new one.

Each step receives alembic ``Operations`` bound to an open connection, so the same code runs on SQLite and Postgres.
``schema_version`` holds the number of the last applied step. ``tests/state/test_migrations.py`` checks that the
head schema equals ``state.models`` and that a version-1 store upgrades without losing rows.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from state.migrations_diagnosis import m7_diagnosis
from state.migrations_map import m8_map_points


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _m1_core(op: Operations) -> None:
    """Version 1: conversations, ingest bookkeeping, taxonomy, rounds, decisions, metrics."""
    op.create_table(
        "conversations", _id(),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("source_ref", sa.String(400), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("round_created", sa.Integer, nullable=False),
        sa.Column("n_turns", sa.Integer, nullable=False),
        sa.Column("n_chars", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_conversations_content_hash", "conversations", ["content_hash"], unique=True)
    for col in ("source", "lang", "origin"):
        op.create_index(f"ix_conversations_{col}", "conversations", [col])
    op.create_table(
        "ingested_files", _id(),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("kept", sa.Integer, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("fingerprint", "source"),
    )
    op.create_table(
        "domains", _id(),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("round_created", sa.Integer, nullable=False),
    )
    op.create_table(
        "tags", _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("canonical_id", sa.Integer, sa.ForeignKey("tags.id"), nullable=True),
        sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=True),
        sa.Column("frequency", sa.Integer, nullable=False),
        sa.Column("round_merged", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("name", "lang"),
    )
    op.create_index("ix_tags_name", "tags", ["name"])
    op.create_table(
        "conversation_tags",
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True),
    )
    op.create_index("ix_conversation_tags_tag_id", "conversation_tags", ["tag_id"])
    op.create_table(
        "rounds", _id(),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("thread_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("ix_rounds_number", "rounds", ["number"])
    op.create_table(
        "decisions", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_decisions_round_node", "decisions", ["round", "node"])
    op.create_table(
        "metrics", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_metrics_round_name", "metrics", ["round", "name"])


def _m2_llm_and_steering(op: Operations) -> None:
    """Version 2: LLM cache and token accounting, steering priorities, evolution operation per conversation."""
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("operation", sa.String(32), nullable=False, server_default=""))
    op.create_table(
        "steering", _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("set_by", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("kind", "key"),
    )
    op.create_table(
        "llm_calls", _id(),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("latency_s", sa.Float, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_llm_calls_key", "llm_calls", ["key"], unique=True)
    op.create_table(
        "token_usage", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("cache_hits", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("rejections", sa.Integer, nullable=False),
        sa.Column("repairs", sa.Integer, nullable=False),
        sa.UniqueConstraint("round", "role"),
    )


def _m3_taxonomy(op: Operations) -> None:
    """Version 3: tag status, merge history, English-Chinese tag alignment."""
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="raw"))
    op.create_table(
        "tag_merges", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("from_tag_id", sa.Integer, sa.ForeignKey("tags.id"), nullable=False),
        sa.Column("to_tag_id", sa.Integer, sa.ForeignKey("tags.id"), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tag_merges_from_tag_id", "tag_merges", ["from_tag_id"])
    op.create_table(
        "tag_alignments",
        sa.Column("en_tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True),
        sa.Column("zh_tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def _m4_seeds(op: Operations) -> None:
    """Version 4: the loss-score cache and the seed set."""
    op.create_table(
        "loss_scores", _id(),
        sa.Column("model_key", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("loss", sa.Float, nullable=True),
        sa.Column("n_tokens", sa.Integer, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("model_key", "content_hash", "kind"),
    )
    op.create_index("ix_loss_scores_content_hash", "loss_scores", ["content_hash"])
    op.create_table(
        "seeds", _id(),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False, unique=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_seeds_round", "seeds", ["round"])


def _m5_evolution(op: Operations) -> None:
    """Version 5: evolution attempts per seed, staged candidates, leakage checks and removed leaks."""
    with op.batch_alter_table("seeds") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "candidates", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    for col in ("round", "content_hash", "status"):
        op.create_index(f"ix_candidates_{col}", "candidates", [col])
    op.create_table(
        "leak_checks",
        sa.Column("conversation_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bench_fp", sa.String(64), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
    )
    op.create_table(
        "leaks", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=True),
        sa.Column("candidate_id", sa.Integer, nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("benchmark", sa.String(200), nullable=False),
        sa.Column("bench_ref", sa.String(200), nullable=False),
        sa.Column("bench_text", sa.Text, nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("ngram", sa.Float, nullable=False),
        sa.Column("llm_verdict", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_leaks_round", "leaks", ["round"])


def _m6_domain_growth(op: Operations) -> None:
    """Version 6: domains can be retired by a re-induction; each induction's pool size and K."""
    with op.batch_alter_table("domains") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("round_retired", sa.Integer, nullable=True))
    op.create_table(
        "domain_inductions", _id(),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("tagged", sa.Integer, nullable=False),
        sa.Column("top_k", sa.Integer, nullable=False),
        sa.Column("n_domains", sa.Integer, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


MIGRATIONS: list[Callable[[Operations], None]] = [_m1_core, _m2_llm_and_steering, _m3_taxonomy, _m4_seeds,
                                                  _m5_evolution, _m6_domain_growth, m7_diagnosis,
                                                  m8_map_points]
HEAD = len(MIGRATIONS)


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.text("SELECT version FROM schema_version")).scalar() or 0)


def upgrade(conn: sa.Connection, target: int = HEAD) -> tuple[int, int]:
    """Apply missing steps up to ``target``; returns (version before, version after)."""
    before = current_version(conn)
    if before > HEAD:
        raise RuntimeError(f"store schema version {before} is newer than this instruct-loop ({HEAD}); upgrade it")
    if before == 0:
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (0)"))
    op = Operations(MigrationContext.configure(conn))
    for number in range(before + 1, target + 1):
        MIGRATIONS[number - 1](op)
        conn.execute(sa.text("UPDATE schema_version SET version = :v"), {"v": number})
    return before, max(before, target)
