"""Record schemas (ShareGPT, OpenAI, Alpaca) to the canonical form: a list of OpenAI messages.

What happens to messy input, decided once here and documented in docs/ingest.md:
- roles: human/user -> user; gpt/chatgpt/bing/bard/assistant/model -> assistant; system -> system; anything else
  (tool, function, observation...) skips the record as ``unknown_role`` because this loop builds chat SFT data;
- empty or whitespace-only turns are dropped (note ``empty_turn_dropped``); a record with no turns left is
  skipped as ``empty``;
- system turns are kept only before the first user turn (merged into one); later ones are dropped (note);
- a segment that opens with assistant turns (long ShareGPT conversations were split) loses those turns, because
  their prompt is in another segment (note ``leading_assistant_trimmed``);
- consecutive turns of one role are joined with a blank line (note ``consecutive_merged``);
- a final user turn with no reply is dropped (note ``trailing_user_trimmed``);
- a record with no user turn followed by an assistant reply is skipped as ``no_exchange``.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

ROLE_MAP = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bing": "assistant",
            "bard": "assistant", "assistant": "assistant", "model": "assistant", "system": "system"}


class RecordSkip(Exception):
    """The record is well-formed JSON but cannot become a conversation; ``reason`` is a counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass
class Canonical:
    messages: list[dict[str, str]]
    schema: str
    record_id: str = ""
    notes: list[str] = field(default_factory=list)


EXPECTED = "a 'conversations' (ShareGPT), 'messages' (OpenAI) or 'instruction' (Alpaca) key"


def _keys(value: dict) -> str:
    keys = sorted(str(k) for k in value)
    return "[" + ", ".join(keys[:10]) + (f", ... ({len(keys)} keys)" if len(keys) > 10 else "") + "]"


def detect_schema(record: Any) -> str:
    if not isinstance(record, dict):
        raise RecordSkip("wrong_schema", f"expected an object with {EXPECTED}; the record is a "
                         f"{type(record).__name__}")
    if "conversations" in record:
        return "sharegpt"
    if "messages" in record:
        return "openai"
    if "instruction" in record:
        return "alpaca"
    raise RecordSkip("wrong_schema", f"expected {EXPECTED}; found keys {_keys(record)}")


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts
        parts = [p.get("text", "") for p in value if isinstance(p, dict) and p.get("type", "text") == "text"]
        if len(parts) == len(value):
            return "\n".join(str(p) for p in parts)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise RecordSkip("wrong_schema", f"{where} is a {type(value).__name__}, expected text")


def _turns_from_list(items: Any, role_key: str, text_key: str, field_name: str) -> list[tuple[str, str]]:
    if not isinstance(items, list):
        raise RecordSkip("wrong_schema", f"'{field_name}' is a {type(items).__name__}, expected a list")
    turns = []
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordSkip("wrong_schema", f"{field_name}[{k}] is a {type(item).__name__}, expected an object "
                             f"with '{role_key}' and '{text_key}'")
        if role_key not in item:
            raise RecordSkip("wrong_schema", f"{field_name}[{k}] has no '{role_key}' key (expected '{role_key}' "
                             f"and '{text_key}'); found keys {_keys(item)}")
        raw_role = str(item[role_key]).strip().lower()
        if raw_role not in ROLE_MAP:
            raise RecordSkip("unknown_role", f"{field_name}[{k}] has role {item[role_key]!r}")
        turns.append((ROLE_MAP[raw_role], _text(item.get(text_key), f"{field_name}[{k}].{text_key}")))
    return turns


def _alpaca_turns(rec: dict) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    if rec.get("system"):
        turns.append(("system", _text(rec["system"], "system")))
    history = rec.get("history") or []
    if not isinstance(history, list):
        raise RecordSkip("wrong_schema", "'history' must be a list of [query, response] pairs")
    for k, pair in enumerate(history):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise RecordSkip("wrong_schema", f"history[{k}] is not a [query, response] pair")
        turns += [("user", _text(pair[0], f"history[{k}][0]")), ("assistant", _text(pair[1], f"history[{k}][1]"))]
    instruction = _text(rec.get("instruction"), "instruction").strip()
    extra = _text(rec.get("input"), "input").strip()
    query = f"{instruction}\n\n{extra}" if instruction and extra else (instruction or extra)
    turns += [("user", query), ("assistant", _text(rec.get("output"), "output"))]
    return turns


def clean_turns(turns: list[tuple[str, str]]) -> tuple[list[dict[str, str]], list[str]]:
    notes: list[str] = []
    kept = [(r, t.strip()) for r, t in turns]
    if len([t for t in kept if t[1]]) < len(kept):
        notes.append("empty_turn_dropped")
    kept = [t for t in kept if t[1]]
    if not kept:
        raise RecordSkip("empty", "no non-empty turns")
    first_user = next((k for k, (r, _) in enumerate(kept) if r == "user"), None)
    if first_user is None:
        raise RecordSkip("no_exchange", "no user turn")
    if any(r == "system" for r, _ in kept[first_user:]):
        notes.append("system_mid_dropped")
    if any(r == "assistant" for r, _ in kept[:first_user]):
        notes.append("leading_assistant_trimmed")
    head_system = [t for r, t in kept[:first_user] if r == "system"]
    body = [(r, t) for r, t in kept[first_user:] if r != "system"]
    merged: list[list[str]] = []
    for role, text in body:
        if merged and merged[-1][0] == role:
            merged[-1][1] += "\n\n" + text
            if "consecutive_merged" not in notes:
                notes.append("consecutive_merged")
        else:
            merged.append([role, text])
    if merged and merged[-1][0] == "user":
        merged.pop()
        notes.append("trailing_user_trimmed")
    if len(merged) < 2:
        raise RecordSkip("no_exchange", "no user turn followed by an assistant reply")
    messages = [{"role": "system", "content": "\n\n".join(head_system)}] if head_system else []
    messages += [{"role": r, "content": t} for r, t in merged]
    return messages, notes


def to_canonical(record: Any) -> Canonical:
    schema = detect_schema(record)
    if schema == "sharegpt":
        turns = _turns_from_list(record["conversations"], "from", "value", "conversations")
    elif schema == "openai":
        turns = _turns_from_list(record["messages"], "role", "content", "messages")
    else:
        turns = _alpaca_turns(record)
    messages, notes = clean_turns(turns)
    rid = record.get("id", record.get("key", ""))
    return Canonical(messages, schema, str(rid) if rid is not None else "", notes)


_SPACE = re.compile(r"\s+")


def content_hash(messages: list[dict[str, str]]) -> str:
    """Exact-dedup key: roles plus NFKC text with whitespace runs collapsed (case is kept: it can matter)."""
    norm = [[m["role"], _SPACE.sub(" ", unicodedata.normalize("NFKC", m["content"])).strip()] for m in messages]
    return hashlib.sha256(json.dumps(norm, ensure_ascii=False).encode()).hexdigest()


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD = re.compile(r"[a-z\u00e0-\u00ff']+")
_EN = set("the a an and or of to in is are was be it this that for on with you your what how why can i".split())
_OTHER_LATIN = set("el la los las de que y en un una es por para le les des et est une pour der die das und ist "
                   "nicht ein eine zu il di che non per o os as um uma não je ik het een van".split())


def detect_lang(messages: list[dict[str, str]]) -> str:
    """en | zh | other from the user turns: script counts, then a stop-word vote among Latin-script languages."""
    text = " ".join(m["content"] for m in messages if m["role"] == "user")[:4000]
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if _KANA_HANGUL.search(text) and len(_KANA_HANGUL.findall(text)) > 0.1 * (cjk + 1):
        return "other"
    # A Han character carries about a word; Latin letters are weighed as words (~4 letters) before comparing.
    if cjk and cjk >= latin / 4:
        return "zh"
    if latin == 0:
        return "other"
    words = _WORD.findall(text.lower())
    en, oth = sum(w in _EN for w in words), sum(w in _OTHER_LATIN for w in words)
    if oth > max(2, 1.5 * en):
        return "other"
    non_ascii = sum(1 for ch in text if ord(ch) > 127 and _LATIN.match(ch))
    return "other" if non_ascii > 0.15 * latin and oth > en else "en"
