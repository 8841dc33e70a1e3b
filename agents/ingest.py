"""ingest: reads the configured pools into SQL, skipping files already ingested (same fingerprint and source)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions
from state.decisions import Action, DecisionRow, Node
from tools.importer import Importer, resolve_pool


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    importer = Importer(res.store, cfg.home / "reports", cfg.ingest.batch_size, cfg.ingest.max_record_bytes,
                        cfg.ingest.max_reported_errors, round_)
    summaries, rows, new = [], [], 0
    for spec in state.get("pools") or cfg.ingest.pools:
        path, source = resolve_pool(spec, res.assets)
        result = importer.ingest_file(path, source, force=bool(state.get("force_ingest")))
        new += result.kept
        summaries.append({"path": str(path), "source": source, "kept": result.kept, "records": result.records,
                          "skipped_file": result.skipped_file, "outcomes": dict(result.outcomes)})
        rows.append(DecisionRow(round_, Node.INGEST, f"file:{path}",
                                Action.SKIP_FILE if result.skipped_file else Action.INGEST,
                                result.skipped_file or f"{result.kept} of {result.records} records kept",
                                result.as_dict()))
    decisions.record(res.store, rows)
    return {"ingested": summaries, "new_conversations": state.get("new_conversations", 0) + new}
