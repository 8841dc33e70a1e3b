"""LLM difficulty of a query on Magpie's five-step scale (very easy = 0 .. very hard = 4), by the judge role.

The measure step rates a seeded sample of each set it measures: the items with the smallest keys of a fixed hash
(the global seed and the content hash). An item's key never changes, so the sample changes only where the set
did (a new item with a smaller key takes the place of the largest one), and the items rated before are answered
by the LLM cache at no cost.
"""
from __future__ import annotations

import hashlib

from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

LEVELS = ("very easy", "easy", "medium", "hard", "very hard")
QUERY_CHARS = 2000  # the opening of a long query says how hard it is; the rest only costs prompt tokens


class RateDifficulty(LLMTask[str, int]):
    """A query (the first user turn) -> its difficulty 0-4."""

    name, template = "rate_difficulty", "difficulty.j2"

    def __init__(self, role: str = "judge", max_tokens: int = 160) -> None:
        super().__init__(role, max_tokens)

    def format_input(self, item: str) -> Messages:
        return render_messages(self.template, query=item[:QUERY_CHARS])

    def parse_output(self, text: str, item: str) -> int:
        value = parse_json_object(text).get("difficulty")
        if isinstance(value, bool) or value is None:
            raise ParseError(f'"difficulty" must be one of {", ".join(LEVELS)}')
        if isinstance(value, int) and 0 <= value < len(LEVELS):
            return value
        label = " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").split())
        if label not in LEVELS:
            raise ParseError(f'"difficulty" must be one of {", ".join(LEVELS)}, not {str(value)[:40]!r}')
        return LEVELS.index(label)


def sample_order(hashes: dict[int, str], seed: int) -> list[int]:
    """Ids in a fixed pseudo-random order that does not depend on which other ids are present."""
    key = lambda i: hashlib.sha256(f"{seed}:{hashes[i]}".encode()).hexdigest()
    return sorted(hashes, key=key)


def rate(llm, queries: list[str], role: str = "judge") -> tuple[list[int | None], int]:
    """Difficulty of each query (None where the reply was rejected) and the number rejected."""
    results = llm.run(RateDifficulty(role), queries) if queries else []
    values = [r.value if r.ok else None for r in results]
    return values, sum(v is None for v in values)
