"""Strict reading of LLM replies: replies are untrusted, so a parser either returns a value or raises ParseError
(whose message the LLM layer shows the model on its one repair attempt). Nothing here ever evaluates a reply."""
from __future__ import annotations

import json
import re


class ParseError(ValueError):
    """The reply does not have the required shape; the message is shown to the model on the repair attempt."""


_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?```\s*$", re.S)


def strip_fences(text: str) -> str:
    m = _FENCE.match(text)
    return m.group(1) if m else text.strip()


def parse_json_object(text: str) -> dict:
    """A JSON object from a reply: fenced or bare; leading/trailing prose around one object is tolerated."""
    body = strip_fences(text)
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise ParseError("the reply is not JSON: no {...} object found") from None
        try:
            value = json.loads(body[start:end + 1])
        except json.JSONDecodeError as exc:
            raise ParseError(f"the reply is not valid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value
