"""Prompt files (Jinja2, StrictUndefined) shipped in the ``prompts`` package.

A prompt file renders to chat messages: lines ``=== system ===``, ``=== user ===`` and ``=== assistant ===`` open
a message of that role (worked examples are user/assistant pairs before the real request). A missing variable is
an error, never an empty string.
"""
from __future__ import annotations

import re
from functools import lru_cache

import jinja2

_HEADER = re.compile(r"^=== (system|user|assistant) ===[ \t]*$", re.M)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("prompts", "."), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=False, autoescape=False, trim_blocks=True, lstrip_blocks=True)


def render(name: str, **variables) -> str:
    return environment().get_template(name).render(**variables)


def render_messages(name: str, **variables) -> list[dict[str, str]]:
    text = render(name, **variables)
    parts = _HEADER.split(text)
    if parts[0].strip():
        raise ValueError(f"prompt {name}: text before the first '=== role ===' header")
    messages = [{"role": role, "content": body.strip()} for role, body in zip(parts[1::2], parts[2::2])]
    if not messages or messages[-1]["role"] != "user":
        raise ValueError(f"prompt {name}: must end with a '=== user ===' message")
    return messages
