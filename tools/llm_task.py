"""LLM units as small task objects: who answers, with which prompt file, in JSON mode or not, how an item becomes
chat messages and how a reply becomes a value.

A task never calls a model: ``LLM.run(task, items)`` (tools/llm.py) does the call, the repair round-trip, the
counting and the cache for every task alike, and sends the task's ``name`` with each request (header
``X-Iloop-Task``) so server logs and the test suite's fake server can tell units apart without reading prompts.
Every ``format_input`` and ``parse_output`` is unit-tested without a model.
"""
from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

I = TypeVar("I")
O = TypeVar("O")
Messages = list[dict[str, str]]


class LLMTask(Generic[I, O]):
    """Subclasses set ``name`` and ``template`` and implement ``format_input`` / ``parse_output``."""

    name: ClassVar[str] = ""
    template: ClassVar[str | None] = None  # the prompt file in prompts/, None for a raw conversation
    json_mode: ClassVar[bool] = True
    parses: ClassVar[bool] = True  # False: the reply text is the value (a plain-text answer)

    def __init__(self, role: str, max_tokens: int | None = None) -> None:
        self.role, self.max_tokens = role, max_tokens

    def format_input(self, item: I) -> Messages:
        raise NotImplementedError

    def parse_output(self, text: str, item: I) -> O:
        """Raise ``tools.llm_parse.ParseError`` with a message the model can act on when the reply is unusable."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, role={self.role!r}, template={self.template!r})"
