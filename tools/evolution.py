"""The evolution tasks (evolve one instruction, judge it, answer, write a user's follow-up) and the rule checks an
evolved instruction must pass before the judge sees it.

Rejection reasons (each becomes a decision row; docs/evolution.md): evolver_error, too_short, unchanged, refusal,
answered, language_switch, judge_rejected, judge_error, answer_refused, answer_cut.
"""
from __future__ import annotations

import json
import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from settings.evolution import OPERATIONS, EvolutionSettings
from tools.formats import detect_lang
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
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


# The prompt names the seed's language: with English tags and domain beside a Chinese seed the 1.5B translated 4 of
# the demo's 6 evolutions into English (each then rejected as language_switch) when the rules only said "same language".
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def choose_operation(rng: random.Random, weights: dict[str, float], avoid: list[str] | tuple = ()) -> str:
    """A weighted draw among the operations with weight > 0, leaving out ``avoid`` while any other is left."""
    ops = [op for op in OPERATIONS if weights.get(op, 0) > 0]
    if not ops:
        raise ValueError("every evolution operation has weight 0; give one a positive weight")
    ops = [op for op in ops if op not in avoid] or ops
    return rng.choices(ops, weights=[weights[op] for op in ops], k=1)[0]


def earlier_operations(key: str, attempt: int, weights: dict[str, float]) -> list[str]:
    """The operations of a seed's attempts before ``attempt``, replayed from their seeded draws (key:k). A retry
    avoids them: the same operation on the same prompt is the same (cached) reply, rejected again; the demo's
    second round re-drew "deepening" for a seed whose deepening had been cut. With weights steered between rounds
    the replay can differ from what ran; then a retry may repeat one operation, never fails."""
    ops: list[str] = []
    for k in range(attempt):
        ops.append(choose_operation(random.Random(f"{key}:{k}"), weights, ops))
    return ops


def choose_rounds(rng: random.Random, turn_weights: list[float]) -> int:
    return rng.choices([1, 2, 3, 4], weights=turn_weights, k=1)[0]


# ---- evolve -----------------------------------------------------------------------------------------------------
class EvolveTask(LLMTask[tuple[SeedItem, str], str]):
    """(seed, operation) -> the evolved instruction; the operation picks the prompt file evolve_<operation>.j2."""

    name, template = "evolve", "evolve_{operation}.j2"

    def format_input(self, item: tuple[SeedItem, str]) -> Messages:
        seed, operation = item
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
        return render_messages(self.template.format(operation=operation), instruction=seed.instruction,
                               domain=seed.domain or "general", skills=", ".join(seed.tags[:8]) or "general",
                               language=LANGUAGE_NAMES.get(seed.lang, "the same language"))

    def parse_output(self, text: str, item: tuple[SeedItem, str]) -> str:
        obj = parse_json_object(text)
        value = obj.get("instruction")
        if not isinstance(value, str) or not value.strip():
            raise ParseError('"instruction" must be a non-empty string')
        value = _LABEL.sub("", value.strip()).strip().strip('"“”').strip()
        if _TASK_WORDS.search(value):
            raise ParseError("the instruction talks about the rewriting task; write only the new instruction itself")
        # the worked example's reply sent back (the demo's 1.5B answered a Chinese seed with the sky-blue example)
        if _norm(value) == _example_instruction(self.template.format(operation=item[1])):
            raise ParseError("that is the worked example's instruction; rewrite the instruction given last")
        return value


@lru_cache(maxsize=None)
def _example_instruction(template: str) -> str:
    """The normalised instruction of a prompt file's worked example (its assistant turn), read once per file."""
    example = render_messages(template, instruction="", domain="", skills="", language="")[2]["content"]
    return _norm(json.loads(example)["instruction"])


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
    if s.max_similarity is None:
        raise ValueError("evolution.max_similarity is unresolved: pass EvolutionSettings.for_model(embedding model)")
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
    """The judge's three answers; the third is the task's own check: really evolved (evolution), or exercises the
    skill (targeted synthesis, tools/synthesis.py), with the rejection reason and wording it gives when false."""
    is_instruction: bool
    answerable: bool
    evolved: bool
    reason: str
    third: tuple[str, str] = ("unchanged", "not evolved")

    def rejection(self) -> tuple[str, str]:
        if not self.is_instruction:
            return "answered", f"judge: {self.reason}"
        if not self.answerable:
            return "judge_rejected", f"judge: not answerable: {self.reason}"
        if not self.evolved:
            return self.third[0], f"judge: {self.third[1]}: {self.reason}"
        return "", ""


def _flag(obj: dict, key: str) -> bool:
    value = obj.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise ParseError(f'"{key}" must be true or false, got {value!r}')


def parse_verdict(text: str, third_key: str, third: tuple[str, str] = ("unchanged", "not evolved")) -> Verdict:
    """The judge's JSON reply: is_instruction, answerable and the task's own ``third_key`` flag, with a reason."""
    obj = parse_json_object(text)
    reason = obj.get("reason", "")
    return Verdict(_flag(obj, "is_instruction"), _flag(obj, "answerable"), _flag(obj, third_key),
                   reason.strip()[:300] if isinstance(reason, str) else "", third)


class JudgeTask(LLMTask[tuple[str, str], Verdict]):
    """(original, rewritten) -> a Verdict: is it an instruction, answerable, really evolved."""

    name, template = "judge_evolution", "judge_evolution.j2"

    def format_input(self, item: tuple[str, str]) -> Messages:
        return render_messages(self.template, original=item[0], rewritten=item[1])

    def parse_output(self, text: str, item: tuple[str, str]) -> Verdict:
        return parse_verdict(text, "evolved")


# ---- dialogue -----------------------------------------------------------------------------------------------------
@dataclass
class FollowupItem:
    """A dialogue so far, its language and the user turns already asked."""
    messages: Messages
    lang: str
    earlier: list[str]


class FollowupTask(LLMTask[FollowupItem, str]):
    """The dialogue so far -> the user's next message, in the dialogue's language, not a repeat."""

    name, template = "dialogue_followup", "dialogue_followup.j2"

    def __init__(self, role: str, turn_chars: int = 1500) -> None:
        super().__init__(role)
        self.turn_chars = turn_chars

    def format_input(self, item: FollowupItem) -> Messages:
        turns = [{"role": m["role"], "content": m["content"] if len(m["content"]) <= self.turn_chars
                  else m["content"][:self.turn_chars] + " [...]"} for m in item.messages if m["role"] != "system"]
        return render_messages(self.template, turns=turns)

    def parse_output(self, text: str, item: FollowupItem) -> str:
        obj = parse_json_object(text)
        value = obj.get("message")
        if not isinstance(value, str) or len(value.strip()) < 8:
            raise ParseError('"message" must be the user\'s next message (at least 8 characters)')
        value = _LABEL.sub("", value.strip()).strip()
        if re.match(r"^\s*(user|assistant)\s*[:：]", value, re.I):
            value = re.sub(r"^\s*(user|assistant)\s*[:：]\s*", "", value, flags=re.I)
        if _ANSWER_START.search(value) or _REFUSAL.search(value):
            raise ParseError("that reads like the assistant's answer; write the USER's next message")
        if _norm(value) in {_norm(e) for e in item.earlier}:
            raise ParseError("the user already asked that; write a new follow-up")
        got = detect_lang([{"role": "user", "content": value}])
        if item.lang in ("en", "zh") and got != item.lang:
            raise ParseError(f"write the message in the conversation's language ({LANGUAGE_NAMES[item.lang]})")
        return value


class AnswerTask(LLMTask[Messages, str]):
    """The dialogue so far -> the assistant's plain-text answer (no prompt file: the conversation is the prompt)."""

    name, json_mode, parses = "answer", False, False

    def format_input(self, item: Messages) -> Messages:
        return item

    def parse_output(self, text: str, item: Messages) -> str:
        return text


def answer_problem(answer: str | None, error: str) -> str:
    """'' when an assistant answer can be kept, else answer_cut / answer_refused."""
    if answer is None:
        return "answer_cut" if "cut off" in error else "answer_refused"
    if not answer.strip():
        return "answer_refused"
    if _REFUSAL.search(answer) and len(answer.split()) < 80:  # Evol-Instruct: short "sorry" replies fail
        return "answer_refused"
    return ""
