"""ingest: reads the configured pools into SQL, skipping files already ingested (same fingerprint and source).

A pool may be a folder (its supported files). A pool that cannot be read (no records, an unknown container) is a
recorded ``skip_file`` decision and the run goes on with the others: a loop running for days should not die on one
bad file. It stops, naming the files, only when no pool could be read and the store holds nothing to work on.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state import decisions
from state.decisions import Action, DecisionRow, Node
from state.conversations import has_conversations
from tools.importer import Importer, resolve_pool
from tools.ingest_files import named_files
from tools.jsonstream import FileFormatError

logger = logging.getLogger(__name__)


def pool_files(specs: list[str], assets) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(file, source) per readable pool file, folders expanded; (spec, error) per pool that is not."""
    files, errors = [], []
    for spec in specs:
        path, source = resolve_pool(spec, assets)
        try:
            files += named_files(path, source)
        except FileFormatError as exc:
            errors.append((spec, str(exc)))
    return files, errors


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    importer = Importer(res.store, cfg.home / "reports", cfg.ingest.batch_size, cfg.ingest.max_record_bytes,
                        cfg.ingest.max_reported_errors, round_, max_records=cfg.ingest.max_records)
    summaries, rows, new = [], [], 0
    files, errors = pool_files(state.get("pools") or cfg.ingest.pools, res.assets)
    for path, source in files:
        try:
            result = importer.ingest_file(path, source, force=bool(state.get("force_ingest")))
        except (FileFormatError, OSError) as exc:
            errors.append((str(path), str(exc)))
            continue
        new += result.kept
        summaries.append({"path": str(path), "source": source, "kept": result.kept, "records": result.records,
                          "skipped_file": result.skipped_file, "outcomes": dict(result.outcomes)})
        rows.append(DecisionRow(round_, Node.INGEST, f"file:{path}",
                                Action.SKIP_FILE if result.skipped_file else Action.INGEST,
                                result.skipped_file or f"{result.kept} of {result.records} records kept",
                                result.as_dict()))
    for spec, error in errors:
        logger.error("pool %s not ingested: %s", spec, error)
        rows.append(DecisionRow(round_, Node.INGEST, f"file:{spec}", Action.SKIP_FILE, error[:500], {}))
    decisions.record(res.store, rows)
    if errors and not new and not has_conversations(res.store):
        raise FileFormatError("no pool could be read and the store is empty: "
                              + "; ".join(f"{spec}: {error}" for spec, error in errors))
    return {"ingested": summaries, "new_conversations": state.get("new_conversations", 0) + new}
