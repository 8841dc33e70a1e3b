"""The evolution units: evolve one instruction, judge it, write a user's follow-up (format_input / parse_output),
and the rule checks an evolved instruction must pass before the judge sees it.

Rejection reasons (each becomes a decision row; docs/evolution.md): evolver_error, too_short, unchanged, refusal,
answered, language_switch, judge_rejected, judge_error, answer_refused, answer_cut.
"""
from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

from graph.settings_evolution import OPERATIONS, EvolutionSettings
from tools.formats import detect_lang
from tools.llm import ParseError, parse_json_object
from tools.prompts import render_messages

REASONS = ("evolver_error", "too_short", "unchanged", "refusal", "answered", "language_switch", "judge_rejected",
           "judge_error", "answer_refused", "answer_cut")

# Words of the rewriting task itself: a reply that mentions them was not written as a stand-alone instruction
# (Evol-Instruct's elimination rule 4).
_TASK_WORDS = re.compile(r"#?\s*(rewritten|given) (prompt|instruction)\s*#?|original instruction|new instruction:"
                         r"|改写后的指令|原始指令", re.I)
_LABEL = re.compile(r"^\s*(new |rewritten |evolved )?(instruction|prompt|task)\s*[:：]\s*", re.I)
_REFUSAL = re.compile(r"^\s*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'm unable|i am unable|"
                      r"as an ai|unfortunately,? i|抱歉|对不起|我不能|我无法|作为一个?ai)", re.I)
_ANSWER_START = re.compile(r"^\s*(sure[,!.]|certainly[,!.]|of course[,!.]|here is|here's|here are|the answer is|"
                           r"answer\s*[:：]|solution\s*[:：]|step 1\b|to solve this|当然|好的[，,]|以下是|答案)", re.I)


@dataclass
class SeedItem:
    """What the evolver knows about one seed."""
    seed_id: int
    conversation_id: int
    instruction: str
    lang: str
    tags: list[str]
    domain: str


def choose_operation(rng: random.Random, weights: dict[str, float]) -> str:
    ops = [op for op in OPERATIONS if weights.get(op, 0) > 0]
    if not ops:
        raise ValueError("every evolution operation has weight 0; give one a positive weight")
    return rng.choices(ops, weights=[weights[op] for op in ops], k=1)[0]


def choose_rounds(rng: random.Random, turn_weights: list[float]) -> int:
    return rng.choices([1, 2, 3, 4], weights=turn_weights, k=1)[0]


# ---- evolve -----------------------------------------------------------------------------------------------------
def format_evolve(seed: SeedItem, operation: str) -> list[dict[str, str]]:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
    return render_messages(f"evolve_{operation}.j2", instruction=seed.instruction, domain=seed.domain or "general",
                           skills=", ".join(seed.tags[:8]) or "general")


def parse_evolve(text: str) -> str:
    obj = parse_json_object(text)
    value = obj.get("instruction")
    if not isinstance(value, str) or not value.strip():
        raise ParseError('"instruction" must be a non-empty string')
    value = _LABEL.sub("", value.strip()).strip().strip('"“”').strip()
    if _TASK_WORDS.search(value):
        raise ParseError("the instruction talks about the rewriting task; write only the new instruction itself")
    return value


# ---- rule checks ------------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def rule_check(seed: SeedItem, evolved: str, operation: str, similarity: float, s: EvolutionSettings) -> tuple[str, str]:
    """('', '') when the evolved instruction passes, else (reason, detail)."""
    if len(evolved) < s.min_chars:
        return "too_short", f"{len(evolved)} chars < {s.min_chars}"
    if operation != "breadth" and len(evolved) < s.min_length_ratio * len(seed.instruction):
        return "too_short", f"{len(evolved)} chars < {s.min_length_ratio} x seed's {len(seed.instruction)}"
    if _norm(evolved) == _norm(seed.instruction):
        return "unchanged", "same text as the seed"
    if similarity >= s.max_similarity:
        return "unchanged", f"cosine {similarity:.3f} to the seed >= {s.max_similarity}"
    if _REFUSAL.search(evolved):
        return "refusal", evolved[:80]
    if _ANSWER_START.search(evolved):
        return "answered", f"opens like an answer: {evolved[:60]!r}"
    lang = detect_lang([{"role": "user", "content": evolved}])
    if seed.lang in ("en", "zh") and lang != seed.lang:
        return "language_switch", f"seed is {seed.lang}, evolution is {lang}"
    return "", ""


# ---- judge ------------------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    is_instruction: bool
    answerable: bool
    evolved: bool
    reason: str

    def rejection(self) -> tuple[str, str]:
        if not self.is_instruction:
            return "answered", f"judge: {self.reason}"
        if not self.answerable:
            return "judge_rejected", f"judge: not answerable: {self.reason}"
        if not self.evolved:
            return "unchanged", f"judge: not evolved: {self.reason}"
        return "", ""


def format_judge(original: str, rewritten: str) -> list[dict[str, str]]:
    return render_messages("judge_evolution.j2", original=original, rewritten=rewritten)


def _flag(obj: dict, key: str) -> bool:
    value = obj.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise ParseError(f'"{key}" must be true or false, got {value!r}')


def parse_judge(text: str) -> Verdict:
    obj = parse_json_object(text)
    reason = obj.get("reason", "")
    return Verdict(_flag(obj, "is_instruction"), _flag(obj, "answerable"), _flag(obj, "evolved"),
                   reason.strip()[:300] if isinstance(reason, str) else "")


# ---- dialogue -----------------------------------------------------------------------------------------------------
def format_followup(messages: list[dict[str, str]], turn_chars: int = 1500) -> list[dict[str, str]]:
    turns = [{"role": m["role"], "content": m["content"] if len(m["content"]) <= turn_chars
              else m["content"][:turn_chars] + " [...]"} for m in messages if m["role"] != "system"]
    return render_messages("dialogue_followup.j2", turns=turns)


def parse_followup(text: str, lang: str, earlier: list[str]) -> str:
    obj = parse_json_object(text)
    value = obj.get("message")
    if not isinstance(value, str) or len(value.strip()) < 8:
        raise ParseError('"message" must be the user\'s next message (at least 8 characters)')
    value = _LABEL.sub("", value.strip()).strip()
    if re.match(r"^\s*(user|assistant)\s*[:：]", value, re.I):
        value = re.sub(r"^\s*(user|assistant)\s*[:：]\s*", "", value, flags=re.I)
    if _ANSWER_START.search(value) or _REFUSAL.search(value):
        raise ParseError("that reads like the assistant's answer; write the USER's next message")
    if _norm(value) in {_norm(e) for e in earlier}:
        raise ParseError("the user already asked that; write a new follow-up")
    got = detect_lang([{"role": "user", "content": value}])
    if lang in ("en", "zh") and got != lang:
        raise ParseError(f"write the message in the conversation's language ({'Chinese' if lang == 'zh' else 'English'})")
    return value


def answer_problem(answer: str | None, error: str) -> str:
    """'' when an assistant answer can be kept, else answer_cut / answer_refused."""
    if answer is None:
        return "answer_cut" if "cut off" in error else "answer_refused"
    if not answer.strip():
        return "answer_refused"
    if _REFUSAL.search(answer) and len(answer.split()) < 80:  # Evol-Instruct: short "sorry" replies fail
        return "answer_refused"
    return ""
