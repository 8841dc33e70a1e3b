"""A JSON file that is one object wrapping the records (``{"data": [...]}``, common in exports): find the list.

One level only: the list under ``--records-key``, else under a usual key (data, records, rows, items, examples,
conversations, train, in that order), else the only list-valued key. An object that is itself a record (it has
``messages`` or ``instruction``, or ``conversations`` holding turns) is not a wrapper. The scan keeps only the
top-level keys and where their values start, so memory stays small whatever the file's size (only a string
value of the top-level object is held whole while it is read), and it stops at the end of the first object when
another value follows (a file of concatenated records).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tools.ingest_files import FileFormatError, open_binary, skip_to

WRAPPER_KEYS = ("data", "records", "rows", "items", "examples", "conversations", "train")
CHUNK = 1 << 20
_STRUCT = re.compile(rb'["{}\[\]]')
IN_STRING = re.compile(rb'["\\]')
# A whole string literal in one C-level match; a string cut by a chunk boundary falls back to IN_STRING.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_NON_WS = re.compile(rb'[^ \t\r\n]')
_SCALAR_END = re.compile(rb'[,}\s]')
# The first key of a list's first element tells turns ({"from": ...}) from records ({"conversations": ...}).
_FIRST_KEY = re.compile(rb'"(from|role|value|content|conversations|messages|instruction)"\s*:')


def next_struct(buf: bytes, i: int) -> tuple[int, int, bool] | None:
    """Past the next bracket or whole string literal from ``i`` inside a JSON value: (index after it, depth
    change, whether a string was left open at the end of ``buf``); None when ``buf`` holds no more of either.
    Shared by this scan and the record reader (tools/jsonstream.py)."""
    m = _STRUCT.search(buf, i)
    if not m:
        return None
    tok = m.group()
    if tok == b'"':
        whole = _STRING.match(buf, m.start())
        return (whole.end(), 0, False) if whole else (m.end(), 0, True)
    return m.end(), (1 if tok in b"{[" else -1), False


@dataclass
class Member:
    key: str
    kind: str  # list | object | string | scalar
    offset: int  # offset of the value's first byte in the (decompressed) file


@dataclass
class TopObject:
    members: list[Member]
    single: bool  # nothing but white space follows the object (or the file ends inside it)


def scan_top_object(path: Path, chunk_size: int = CHUNK) -> TopObject | None:
    """The top-level members of the file's first value, or None when it is not an object (or not JSON)."""
    members: list[Member] = []
    depth, expect, in_string, key = 0, "open", False, ""
    with open_binary(path) as fh:
        buf, base = fh.read(chunk_size), 0
        i = 3 if buf.startswith(b"\xef\xbb\xbf") else 0
        need = False
        while True:
            if need or i >= len(buf):
                chunk = fh.read(chunk_size)
                if not chunk:
                    break
                base, buf, i, need = base + i, buf[i:] + chunk, 0, False
            if depth >= 2:  # inside a member's value: only brackets and strings matter
                if in_string:
                    m = IN_STRING.search(buf, i)
                    if not m:
                        i = len(buf)
                    elif m.group() == b"\\":
                        i, need = (m.end() + 1, False) if m.end() < len(buf) else (m.start(), True)
                    else:
                        i, in_string = m.end(), False
                    continue
                step = next_struct(buf, i)
                if step is None:
                    i = len(buf)
                    continue
                i, delta, in_string = step
                depth += delta
                expect = "comma" if depth == 1 else expect
                continue
            m = _NON_WS.search(buf, i)
            if not m:
                i = len(buf)
                continue
            at, c = m.start(), buf[m.start():m.start() + 1]
            if expect == "after":
                return TopObject(members, single=False)
            if expect == "open":
                if c != b"{":
                    return None
                depth, expect, i = 1, "key", at + 1
            elif expect in ("key", "comma") and c == b"}":
                depth, expect, i = 0, "after", at + 1
            elif expect == "comma" and c == b",":
                expect, i = "key", at + 1
            elif expect == "colon" and c == b":":
                expect, i = "value", at + 1
            elif expect == "key" and c == b'"':
                whole = _STRING.match(buf, at)
                if not whole:
                    i, need = at, True
                    continue
                key, expect, i = json.loads(whole.group()), "colon", whole.end()
            elif expect == "value":
                kind = {b"[": "list", b"{": "object", b'"': "string"}.get(c, "scalar")
                if kind in ("list", "object"):
                    depth, i = 2, at + 1
                else:
                    end = _STRING.match(buf, at) if kind == "string" else _SCALAR_END.search(buf, at)
                    if not end:
                        i, need = at, True
                        continue
                    expect, i = "comma", end.end() if kind == "string" else end.start()
                members.append(Member(key, kind, base + at))
            else:
                return None  # not well-formed at the top level: the record reader reports it
    return None if expect == "open" else TopObject(members, single=True)


def _head(path: Path, offset: int, size: int = 1 << 16) -> bytes:
    with open_binary(path) as fh:
        skip_to(fh, offset)
        return fh.read(size)


def _holds_turns(path: Path, member: Member) -> bool:
    first = _FIRST_KEY.search(_head(path, member.offset))
    return first is not None and first.group(1) in (b"from", b"role", b"value", b"content")


def records_list(path: Path, records_key: str | None = None) -> Member | None:
    """The list holding the records of a wrapping object, or None when the file is records itself."""
    top = scan_top_object(path)
    if records_key is not None:
        listed = ", ".join(f"{m.key} ({m.kind})" for m in top.members) if top else ""
        found = next((m for m in top.members if m.key == records_key), None) if top else None
        if found is None or found.kind != "list":
            article = "an" if found and found.kind[0] in "aeiou" else "a"
            what = f"names {article} {found.kind}, not a list, in" if found else "is not a key of"
            raise FileFormatError(f"{path}: --records-key {records_key!r} {what} the top-level object"
                                  + (f"; its keys: {listed}" if top else " (the file is not one JSON object)"))
        return found
    if top is None or not top.single:
        return None
    keys = {m.key: m for m in top.members}
    if "messages" in keys or "instruction" in keys:
        return None
    if "conversations" in keys and keys["conversations"].kind == "list" and _holds_turns(path, keys["conversations"]):
        return None
    lists = [m for m in top.members if m.kind == "list"]
    for name in WRAPPER_KEYS:
        if name in keys and keys[name].kind == "list":
            return keys[name]
    if len(lists) == 1:
        return lists[0]
    if lists:
        raise FileFormatError(f"{path}: one JSON object with {len(lists)} lists ({', '.join(m.key for m in lists)}) "
                              f"and none under a usual key ({', '.join(WRAPPER_KEYS)}); name the one that holds "
                              "the records: iloop ingest FILE --records-key KEY")
    return None
