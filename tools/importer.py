"""Batch importer: files of any supported schema and container -> canonical conversations in SQL.

Every record ends in exactly one outcome, counted: ``kept``, ``duplicate`` (same normalised content as a stored
conversation or an earlier record), ``skip:<reason>`` (see tools.formats) or ``error:<reason>`` (see
tools.jsonstream). Notes (turns trimmed or merged) are counted separately. Every skip and error also goes to a
JSONL report under <home>/reports with file, record index and byte offset, and the first of each kind is kept
as a sample for the console. Writes are committed per batch, so a failure mid-file keeps everything stored before
it. A file with no record at all is an error whatever its container (empty JSONL, empty array, Parquet with no
rows), and so is a folder: the caller lists its files (tools.ingest_files.expand_inputs).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from state import ingested_files
from state.conversations import NewConversation, add_conversations
from state.db import Store
from tools.formats import RecordSkip, content_hash, detect_lang, to_canonical
from tools.ingest_files import source_name
from tools.jsonstream import FileFormatError, RawRecord, RecordError, open_records


@dataclass
class IngestResult:
    path: str
    source: str
    records: int = 0
    kept: int = 0
    outcomes: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)  # first few skips/errors, for the console
    samples: dict[str, dict] = field(default_factory=dict)  # the first skip/error of each kind, for the console
    skipped_file: str = ""  # "already ingested" when the fingerprint matched
    stopped_at: int = 0  # the record limit that ended the read early (0: read to the end)
    report: str = ""
    layout: str = ""  # how the file holds its records, e.g. "the list under 'data' of the top-level object"

    @property
    def conversations(self) -> int:
        """Records that are conversations (stored now or already): 0 means the file gave nothing usable."""
        return self.kept + self.outcomes.get("duplicate", 0)

    def as_dict(self) -> dict:
        return {"path": self.path, "source": self.source, "records": self.records, "kept": self.kept,
                "outcomes": dict(self.outcomes), "notes": dict(self.notes), "skipped_file": self.skipped_file,
                "report": self.report, "layout": self.layout, "stopped_at": self.stopped_at}


def fingerprint(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256(f"{st.st_size}".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if st.st_size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read())
    return h.hexdigest()


class Importer:
    def __init__(self, store: Store, reports_dir: Path, batch_size: int = 1000,
                 max_record_bytes: int = 16 << 20, max_reported: int = 20, round_: int = 0,
                 max_records: int = 0) -> None:
        self.store, self.reports_dir = store, reports_dir
        self.batch_size, self.max_record_bytes = batch_size, max_record_bytes
        self.max_reported, self.round = max_reported, round_
        self.max_records = max_records  # read only a file's first N records (0: all)

    def ingest_file(self, path: Path | str, source: str | None = None, force: bool = False,
                    progress: Callable[[int], None] | None = None, records_key: str | None = None) -> IngestResult:
        """Read one file; ``records_key`` names the list of records inside a wrapping JSON object."""
        path = Path(path)
        source = source or source_name(path)
        result = IngestResult(str(path), source)
        if not path.exists():
            raise FileFormatError(f"{path}: no such file")
        if path.is_dir():
            raise FileFormatError(f"{path}: is a folder; give the files in it (`iloop ingest FOLDER` does)")
        fp = fingerprint(path)
        if self.max_records:
            # A file read up to a limit is not the file read in full: a later run without the limit reads it again
            # (the first records then count as duplicates), and one with another limit reads up to that one.
            fp = hashlib.sha256(f"{fp}:first{self.max_records}".encode()).hexdigest()
        if not force and ingested_files.already_ingested(self.store, fp, source):
            result.skipped_file = "already ingested (same fingerprint and source)"
            return result
        result.layout, records = open_records(path, self.max_record_bytes, records_key)
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        report_path = self.reports_dir / f"ingest-{source}-{fp[:12]}.jsonl"
        result.report = str(report_path)
        seen: set[str] = set()
        batch: list[NewConversation] = []
        with open(report_path, "w", encoding="utf-8") as report:
            for item in records:
                if self.max_records and result.records >= self.max_records:
                    result.stopped_at = self.max_records
                    break
                if isinstance(item, RecordError):
                    self._problem(result, report, f"error:{item.reason}", item.index, item.offset, item.detail)
                    if item.index is not None:
                        result.records += 1
                    continue
                result.records += 1
                row = self._row(item, result, report, source, path)
                if row is None:
                    continue
                if row.content_hash in seen:
                    result.outcomes["duplicate"] += 1
                    continue
                seen.add(row.content_hash)
                batch.append(row)
                if len(batch) >= self.batch_size:
                    self._flush(batch, result)
                    batch = []
                    if progress:
                        progress(result.records)
            self._flush(batch, result)
        if progress:
            progress(result.records)
        if result.records == 0:
            problems = "; ".join(f"{p['outcome']}: {p['detail']}" for p in result.samples.values())
            raise FileFormatError(f"{path}: no records in {result.layout}" + (f" ({problems})" if problems else ""))
        if result.conversations == 0:
            # Not fingerprinted: the user will fix the file or the command (--records-key) and read it again.
            return result
        counts = {**result.outcomes, **{f"note:{k}": v for k, v in result.notes.items()}}
        ingested_files.record_file(self.store, str(path.resolve()), source, fp, result.records, result.kept, counts,
                                   self.round)
        return result

    def _row(self, item: RawRecord, result: IngestResult, report, source: str, path: Path) -> NewConversation | None:
        try:
            canon = to_canonical(item.value)
        except RecordSkip as skip:
            self._problem(result, report, f"skip:{skip.reason}", item.index, item.offset, skip.detail)
            return None
        for note in canon.notes:
            result.notes[note] += 1
        return NewConversation(messages=canon.messages, content_hash=content_hash(canon.messages), source=source,
                               lang=detect_lang(canon.messages), origin="pool", round_created=self.round,
                               source_ref=f"{path.name}#{item.index}" + (f":{canon.record_id}" if canon.record_id
                                                                         else ""))

    def _flush(self, batch: list[NewConversation], result: IngestResult) -> None:
        if not batch:
            return
        kept = len(add_conversations(self.store, batch))
        result.outcomes["duplicate"] += len(batch) - kept
        result.kept += kept
        result.outcomes["kept"] += kept

    def _problem(self, result: IngestResult, report, outcome: str, index, offset, detail: str) -> None:
        result.outcomes[outcome] += 1
        entry = {"file": result.path, "record": index, "byte_offset": offset, "outcome": outcome, "detail": detail}
        report.write(json.dumps(entry, ensure_ascii=False) + "\n")
        result.samples.setdefault(outcome, entry)
        # Errors (broken bytes, truncation) are rare and each matters, so they are never crowded out by skips.
        same_kind = sum(p["outcome"].split(":")[0] == outcome.split(":")[0] for p in result.problems)
        if same_kind < self.max_reported:
            result.problems.append(entry)


def resolve_pool(spec: str, assets) -> tuple[Path, str | None]:
    """'builtin:NAME' -> (packaged file, NAME); 'path=source' -> (path, source); 'path' -> (path, None): the files
    then name themselves (`tools.ingest_files.named_files`)."""
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        return assets.pool_path(name), name
    path, _, source = spec.partition("=")
    return Path(path), source or None
