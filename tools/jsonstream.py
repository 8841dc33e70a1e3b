"""Stream records out of JSON arrays, concatenated JSON values, JSONL and Parquet with bounded memory.

Every record comes with its index and byte offset so a problem can be reported as file + record + offset. A JSON
array is split into records by a byte-level scanner (strings and escapes respected) instead of a full parse, which
is what lets a file truncated mid-record give back every complete record before the break.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tools.ingest_files import FileFormatError, compression, inner_suffix, open_binary, skip_to
from tools.ingest_wrapper import IN_STRING, next_struct, records_list

CHUNK = 1 << 20
_SCALAR_END = re.compile(rb'[,\]\s]')
_WS = b" \t\r\n"


@dataclass
class RawRecord:
    index: int
    offset: int
    value: Any


@dataclass
class RecordError:
    index: int | None
    offset: int | None
    reason: str  # short machine key, e.g. "invalid_json", "truncated", "too_large"
    detail: str


def _decode(data: bytes, index: int, offset: int) -> RawRecord | RecordError:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(index, offset, "invalid_utf8",
                           f"invalid UTF-8 byte {data[exc.start:exc.start + 1]!r} at byte {offset + exc.start}")
    try:
        return RawRecord(index, offset, json.loads(text))
    except json.JSONDecodeError as exc:
        return RecordError(index, offset, "invalid_json", f"{exc.msg} at byte {offset + len(text[:exc.pos].encode())}")


def sniff(path: Path) -> str:
    """'array', 'sequence', 'jsonl' or 'parquet', from the extension and the first (decompressed) bytes."""
    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder; give the files in it (`iloop ingest FOLDER` does)")
    packed = compression(path)
    with open_binary(path) as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1") or inner_suffix(path) == ".parquet":
        if packed:
            raise FileFormatError(f"{path}: a {packed}-compressed Parquet file; Parquet compresses itself, so "
                                  "decompress the file and ingest the .parquet")
        return "parquet"
    if not head:
        raise FileFormatError(f"{path}: file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileFormatError(f"{path}: file is UTF-16 encoded; convert it to UTF-8")
    stripped = head.lstrip(b"\xef\xbb\xbf" + _WS)
    if not stripped:
        raise FileFormatError(f"{path}: file holds only whitespace")
    first = stripped[:1]
    if first == b"[":
        return "array"
    if first == b"{":
        return "jsonl" if inner_suffix(path) in (".jsonl", ".ndjson") else "sequence"
    raise FileFormatError(f"{path}: not JSON, JSONL or Parquet (starts with {stripped[:20]!r})")


def iter_jsonl(path: Path, max_record_bytes: int) -> Iterator[RawRecord | RecordError]:
    offset, index = 0, 0
    with open_binary(path) as fh:
        while True:
            line = fh.readline(max_record_bytes + 1)
            if not line:
                return
            start = offset
            offset += len(line)
            if len(line) > max_record_bytes and not line.endswith(b"\n"):
                # Oversized line: drain it in bounded pieces instead of holding it.
                while True:
                    rest = fh.readline(CHUNK)
                    offset += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield RecordError(index, start, "too_large", f"line longer than {max_record_bytes} bytes "
                                  f"({offset - start} bytes)")
                index += 1
                continue
            if index == 0:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            complete = line.endswith(b"\n") or fh.peek(1) == b""
            rec = _decode(line, index, start)
            if isinstance(rec, RecordError) and not line.endswith(b"\n") and complete:
                rec = RecordError(index, start, "truncated", f"last line is incomplete ({len(line)} bytes): "
                                  f"{rec.detail}")
            yield rec
            index += 1


def iter_json_values(path: Path, max_record_bytes: int, array: bool,
                     start: int = 0) -> Iterator[RawRecord | RecordError]:
    """Records of a top-level JSON array (array=True) or of concatenated JSON values; with ``start``, of the
    array that begins at that offset inside a wrapping object (what follows its ']' is the wrapper's)."""
    state = "start" if array else "between"
    depth, in_string, escape, oversized = 0, False, False, False
    buf = bytearray()
    rec_start, index, pos = 0, 0, start
    kind = "container"
    with open_binary(path) as fh:
        skip_to(fh, start)
        chunk = fh.read(CHUNK)
        skip = 3 if start == 0 and chunk.startswith(b"\xef\xbb\xbf") else 0
        while chunk:
            i, n, skip = skip, len(chunk), 0
            while i < n:
                if state == "start":
                    while i < n and chunk[i] in _WS:
                        i += 1
                    if i < n:
                        if chunk[i:i + 1] != b"[":
                            raise FileFormatError(f"{path}: expected '[' at byte {pos + i}")
                        state, i = "between", i + 1
                    continue
                if state == "between":
                    while i < n and (chunk[i] in _WS or chunk[i:i + 1] == b","):
                        i += 1
                    if i >= n:
                        break
                    c = chunk[i:i + 1]
                    if c == b"]" and array:
                        state = "done"
                        i += 1
                        continue
                    rec_start, buf, oversized = pos + i, bytearray(), False
                    state, depth, in_string, escape = "record", 0, False, False
                    kind = "container" if c in b"{[" else ("string" if c == b'"' else "scalar")
                    if kind == "string":
                        in_string, i = True, i + 1
                        buf += c
                    continue
                if state == "done":
                    if start:
                        return
                    rest = chunk[i:].strip()
                    if rest:
                        yield RecordError(None, pos + i, "trailing_data", f"{len(rest)} bytes after the closing ']'")
                    i = n
                    continue
                # state == "record": find where this value ends.
                end = None
                j = i
                if kind == "scalar":
                    m = _SCALAR_END.search(chunk, j)
                    end = m.start() if m else None
                    j = end if end is not None else n
                else:
                    while j < n:
                        if escape:
                            escape, j = False, j + 1
                            continue
                        if in_string:
                            m = IN_STRING.search(chunk, j)
                            if not m:
                                j = n
                                break
                            j = m.end()
                            if m.group() == b"\\":
                                escape = True
                            else:
                                in_string = False
                                if kind == "string":
                                    end = j
                                    break
                            continue
                        step = next_struct(chunk, j)
                        if step is None:
                            j = n
                            break
                        j, delta, in_string = step
                        depth += delta
                        if delta < 0 and depth == 0:
                            end = j
                            break
                piece_end = end if end is not None else j
                if not oversized:
                    buf += chunk[i:piece_end]
                    if len(buf) > max_record_bytes:
                        oversized, buf = True, bytearray()
                i = piece_end
                if end is not None:
                    state = "between"
                    if oversized:
                        yield RecordError(index, rec_start, "too_large",
                                          f"record of {pos + end - rec_start} bytes exceeds {max_record_bytes}")
                    else:
                        yield _decode(bytes(buf), index, rec_start)
                    index += 1
                    buf = bytearray()
            pos += n
            chunk = fh.read(CHUNK)
    if state == "record":
        if kind == "scalar" and not oversized:
            yield _decode(bytes(buf), index, rec_start)
        else:
            yield RecordError(index, rec_start, "truncated", f"file ends inside record {index} "
                              f"({pos - rec_start} bytes from byte {rec_start} to end of file)")
    elif array and state in ("between", "start"):
        yield RecordError(None, pos, "unclosed_array", "file ends before the closing ']' (all records complete)")


def iter_parquet(path: Path, batch_rows: int = 1024) -> Iterator[RawRecord | RecordError]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken footer
        raise FileFormatError(f"{path}: unreadable Parquet file: {exc}") from exc
    if pf.metadata.num_rows == 0:  # alike an empty JSONL file: an error, not a silent success
        raise FileFormatError(f"{path}: file is empty (a Parquet file with no rows)")
    index = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            yield RawRecord(index, None, row)
            index += 1


def open_records(path: Path, max_record_bytes: int = 16 << 20,
                 records_key: str | None = None) -> tuple[str, Iterator[RawRecord | RecordError]]:
    """(how the file holds its records, in words; the records), for any supported container."""
    kind = sniff(path)
    if kind == "parquet":
        return "Parquet rows", iter_parquet(path)
    if kind == "jsonl" and records_key is None:
        return "JSON lines", iter_jsonl(path, max_record_bytes)
    wrapped = records_list(path, records_key) if kind != "array" or records_key else None
    if wrapped is not None:
        return (f"the list under {wrapped.key!r} of the top-level object",
                iter_json_values(path, max_record_bytes, array=True, start=wrapped.offset))
    if kind == "array":
        return "a JSON array", iter_json_values(path, max_record_bytes, array=True)
    return "JSON values", iter_json_values(path, max_record_bytes, array=False)


def iter_records(path: Path, max_record_bytes: int = 16 << 20,
                 records_key: str | None = None) -> Iterator[RawRecord | RecordError]:
    return open_records(path, max_record_bytes, records_key)[1]
