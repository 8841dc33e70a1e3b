"""Targeted synthesis tasks (write instructions for a missing skill; judge them) and the per-skill plan.

How many items a skill gets: ``synthesis.per_skill`` x (findings naming it this round) x (their mean severity / 2)
x (steering weight of its tag x that of its domain: the coverage analyst's and the console's priorities), rounded,
at least 1 (none when a steering weight is 0), at most ``synthesis.max_per_skill``; skills with the largest weight first until
``synthesis.max_per_round`` is spent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.evolution import _LABEL, Verdict, parse_verdict
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

REASONS = ("synthesizer_error", "too_short", "near_copy", "refusal", "answered", "language_switch", "judge_rejected",
           "judge_error", "off_skill", "answer_refused", "answer_cut")
LANGUAGE = {"en": "English", "zh": "simplified Chinese"}


@dataclass
class SkillPlan:
    """One deficient skill of the round and what the synthesizer will ask for it."""
    skill_id: int
    name: str
    domain: str
    tag_id: int | None
    finding_ids: list[int]
    severities: list[int]
    example_ids: list[int]  # diagnosis conversations of its findings; the first ``synthesis.examples`` are shown
    weight: float = 0.0
    n: int = 0
    examples: list[str] = field(default_factory=list)
    lang: str = "en"


def plan_skills(rows: list[dict], steer_tag: dict[str, float], steer_domain: dict[str, float], settings
                ) -> list[SkillPlan]:
    """Group the round's deficient findings (state.diagnosis.deficient_findings rows) by skill and size each."""
    by: dict[int, SkillPlan] = {}
    for r in rows:
        p = by.setdefault(r["skill_id"], SkillPlan(r["skill_id"], r["name"], r["skill_domain"] or r["domain"],
                                                   r["tag_id"], [], [], []))
        if r["id"] not in p.finding_ids:
            p.finding_ids.append(r["id"])
            p.severities.append(int(r["severity"] or 1))
            p.example_ids.append(r["conversation_id"])
    plans = []
    for p in by.values():
        mean_sev = sum(p.severities) / len(p.severities)
        steer = steer_tag.get(p.name, 1.0) * steer_domain.get(p.domain, 1.0)
        if steer <= 0:
            continue  # a user who set weight 0 asked for no items
        p.weight = round(len(p.finding_ids) * mean_sev / 2 * steer, 4)
        p.n = max(1, min(settings.max_per_skill, round(settings.per_skill * p.weight)))
        plans.append(p)
    plans.sort(key=lambda p: (-p.weight, p.name))
    budget, out = settings.max_per_round, []
    for p in plans:
        if budget <= 0:
            break
        p.n = min(p.n, budget)
        budget -= p.n
        out.append(p)
    return out


class SynthesizeTask(LLMTask[SkillPlan, list[str]]):
    """A skill (with its domain and style examples) -> ``n`` new instructions that exercise it."""

    name, template = "synthesize", "synthesize.j2"

    def __init__(self, role: str = "synthesizer", answer_max_tokens: int = 1024, max_tokens: int | None = None) -> None:
        super().__init__(role, max_tokens)
        # the dialogue's first answer is cut at answer_max_tokens and a cut answer rejects the item: ask for tasks
        # whose whole answer fits (about 0.6 English words a token, rounded down to tens)
        self.answer_words = max(30, int(answer_max_tokens * 0.6) // 10 * 10)

    def format_input(self, item: SkillPlan) -> Messages:
        return render_messages(self.template, skill=item.name, domain=item.domain or "general", n=item.n,
                               examples=item.examples or ["(none)"], language=LANGUAGE.get(item.lang, "English"),
                               answer_words=self.answer_words, format_example=FORMAT_EXAMPLE)

    def parse_output(self, text: str, item: SkillPlan) -> list[str]:
        obj = parse_json_object(text)
        raw = obj.get("instructions")
        if isinstance(raw, str):
            raw = [raw]
        if isinstance(raw, list):
            raw = [_from_record(x) for x in raw]
        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            raise ParseError('"instructions" must be a list of instruction strings')
        if any(_PLACEHOLDER.match(x.strip()) or x.strip() == FORMAT_EXAMPLE for x in raw):  # the format copied
            raise ParseError("write the instructions themselves, each a complete request, not placeholders like "
                             "<instruction 1>")
        out, seen = [], set()
        for x in raw:
            value = _LABEL.sub("", x.strip()).strip().strip('"“”').strip()
            key = re.sub(r"\W+", " ", value.lower()).strip()
            if value and key not in seen:
                seen.add(key)
                out.append(value)
        if not out:
            raise ParseError('"instructions" holds no usable instruction')
        return out[:item.n]


# The prompt's example of the reply's shape; copied back, it is refused like a placeholder.
FORMAT_EXAMPLE = "Convert 3.5 miles to kilometres and show each step."
# "<instruction 1>", "[instruction 2]", "instruction 3", "...": the reply format echoed (seen from the 1.5B)
_PLACEHOLDER = re.compile(r"^[<\[(]?\s*(instruction|new instruction|task)?\s*\d*\s*[>\])]?$|^\.\.\.$|^…$", re.I)


def _from_record(x):
    """An Alpaca-style record where a string was asked for (the demo's 1.5B wrote {"task", "input", "output"}, and
    {"input", "output"} with the whole request in "input", as Alpaca records with an empty instruction do): its
    instruction and its input, never its output (the dialogue role answers). Anything else stays as it is and
    fails the shape check."""
    if not isinstance(x, dict):
        return x
    head = next((x[k] for k in ("instruction", "task", "prompt", "question") if isinstance(x.get(k), str)), None)
    extra = x.get("input", "")
    if head is None and isinstance(extra, str) and extra.strip():
        return extra.strip()
    if head is None or not isinstance(extra, str):
        return x
    return f"{head.strip()}\n\n{extra.strip()}" if extra.strip() else head


class JudgeSynthesisTask(LLMTask[tuple[str, str], Verdict]):
    """(skill, instruction) -> is it an answerable instruction that needs the skill."""

    name, template = "judge_synthesis", "judge_synthesis.j2"

    def format_input(self, item: tuple[str, str]) -> Messages:
        return render_messages(self.template, skill=item[0], instruction=item[1])

    def parse_output(self, text: str, item: tuple[str, str]) -> Verdict:
        return parse_verdict(text, "exercises_skill", ("off_skill", "does not exercise the skill"))


def group_examples(plans: list[SkillPlan], texts: dict[int, str], langs: dict[int, str], chars: int, n: int) -> None:
    """Fill each plan's style examples (the first ``n`` of its items, cut to ``chars``) and its language (its first
    finding's item's, also when no example is shown)."""
    for p in plans:
        p.examples = [t if len(t) <= chars else t[:chars] + " [...]"
                      for t in (texts.get(i, "") for i in p.example_ids[:n]) if t]
        p.lang = langs.get(p.example_ids[0], "en") if p.example_ids else "en"

