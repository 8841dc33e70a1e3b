"""ingest: reads the configured pools into SQL, skipping files already ingested (same fingerprint and source)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from tools.importer import Importer, resolve_pool


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    importer = Importer(res.store, cfg.home / "reports", cfg.ingest.batch_size, cfg.ingest.max_record_bytes,
                        cfg.ingest.max_reported_errors, round_)
    summaries, decisions, new = [], [], 0
    for spec in state.get("pools") or cfg.ingest.pools:
        path, source = resolve_pool(spec, res.assets)
        result = importer.ingest_file(path, source, force=bool(state.get("force_ingest")))
        new += result.kept
        summaries.append({"path": str(path), "source": source, "kept": result.kept, "records": result.records,
                          "skipped_file": result.skipped_file, "outcomes": dict(result.outcomes)})
        decisions.append(dict(round=round_, node="ingest", subject=f"file:{path}",
                              action="skip_file" if result.skipped_file else "ingest",
                              reason=result.skipped_file or f"{result.kept} of {result.records} records kept",
                              evidence=result.as_dict()))
    res.store.record_decisions(decisions)
    return {"ingested": summaries, "new_conversations": state.get("new_conversations", 0) + new}
