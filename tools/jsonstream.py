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

CHUNK = 1 << 20
_STRUCT = re.compile(rb'["{}\[\]]')
_IN_STRING = re.compile(rb'["\\]')
# A whole string literal in one C-level match; a string cut by a chunk boundary falls back to the byte loop.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
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


class FileFormatError(ValueError):
    """The file as a whole cannot be read (wrong encoding, not JSON at all); names the file."""


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
    """'array', 'sequence', 'jsonl' or 'parquet', from the extension and the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1") or path.suffix == ".parquet":
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
        return "jsonl" if path.suffix in (".jsonl", ".ndjson") else "sequence"
    raise FileFormatError(f"{path}: not JSON, JSONL or Parquet (starts with {stripped[:20]!r})")


def iter_jsonl(path: Path, max_record_bytes: int) -> Iterator[RawRecord | RecordError]:
    offset, index = 0, 0
    with open(path, "rb") as fh:
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


def iter_json_values(path: Path, max_record_bytes: int, array: bool) -> Iterator[RawRecord | RecordError]:
    """Records of a top-level JSON array (array=True) or of concatenated JSON values."""
    state = "start" if array else "between"
    depth, in_string, escape, oversized = 0, False, False, False
    buf = bytearray()
    rec_start, index, pos = 0, 0, 0
    kind = "container"
    with open(path, "rb") as fh:
        chunk = fh.read(CHUNK)
        skip = 3 if chunk.startswith(b"\xef\xbb\xbf") else 0
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
                            m = _IN_STRING.search(chunk, j)
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
                        m = _STRUCT.search(chunk, j)
                        if not m:
                            j = n
                            break
                        j = m.end()
                        tok = m.group()
                        if tok == b'"':
                            whole = _STRING.match(chunk, m.start())
                            if whole:
                                j = whole.end()
                            else:
                                in_string = True
                        elif tok in b"{[":
                            depth += 1
                        else:
                            depth -= 1
                            if depth == 0:
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
    index = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            yield RawRecord(index, None, row)
            index += 1


def iter_records(path: Path, max_record_bytes: int = 16 << 20) -> Iterator[RawRecord | RecordError]:
    kind = sniff(path)
    if kind == "parquet":
        return iter_parquet(path)
    if kind == "jsonl":
        return iter_jsonl(path, max_record_bytes)
    return iter_json_values(path, max_record_bytes, array=(kind == "array"))
