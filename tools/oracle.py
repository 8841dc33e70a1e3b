"""The oracle role: compares M_FT's answer with the reference and names the missing skills (method.md section 4).

A finding is deficient or not, 2-5 short skill phrases (more are cut to the first five), a one-line description and a severity 0-3. Its text must
name no named entity (tools/named_entities.py): such a reply is sent back once with the entities it named, then
rejected with reason ``named_entity`` and counted, as a reply of the wrong shape is (``parse_error``) and one
whose description repeats a worked example's subject matter (``copied_example``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.named_entities import finding_entities
from tools.prompts import render_messages

ENTITY_PREFIX = "named entities are not allowed"
COPY_PREFIX = "the description repeats the worked example"


@dataclass
class OracleItem:
    question: str
    reference: str
    answer: str


@dataclass
class FindingReply:
    deficient: bool
    skills: list[str]
    description: str
    severity: int


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [... cut]"


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise ParseError(f'"deficient" must be true or false, got {value!r}')


def clean_skill(phrase: str) -> str:
    """A skill phrase as stored: lower case, single spaces, no quotes or trailing punctuation."""
    return re.sub(r"\s+", " ", phrase.strip().strip("\"'“”.,;:").strip()).lower()


# words any description may use (function words and the vocabulary of judging an answer: "does not explain the
# steps", "gets the wrong result"); the rest of a worked example is its subject matter
_STOP = frozenset("""a an the of to and or is are was be as in on at for with by it its this that these not no does do
did into from about so because you has have gives give given provides provide provided student students answer answers
reference question questions correct correctly wrong wrongly instead same names name than but also only which what how
one two any all more most very explain explains explained explanation step steps list lists listed describe
describes calculate calculates calculation result results get gets got fails fail missing misses miss uses use used
shows show write writes written asked asks ask task request required requires each every incorrect incorrectly
complete completely incomplete fully treats treat""".split())


def _words(text: str) -> list[str]:
    """Content words, British -our spelt -or ("colours" = "colors": the demo's oracle copied the example in US
    spelling)."""
    return [re.sub(r"our(s?)$", r"or\1", w) if len(w) > 5 else w
            for w in re.findall(r"[\u4e00-\u9fff]|[a-z0-9]+", text.lower()) if w not in _STOP]


def _spans(text: str, n: int = 2) -> set[tuple[str, ...]]:
    """Pairs of consecutive content words (stop words dropped)."""
    w = _words(text)
    return {tuple(w[k:k + n]) for k in range(len(w) - n + 1)}


class DiagnoseTask(LLMTask[OracleItem, FindingReply]):
    name, template = "oracle_diagnose", "oracle_diagnose.j2"

    def __init__(self, role: str = "oracle", max_chars: int = 2500, max_tokens: int | None = 320) -> None:
        super().__init__(role, max_tokens)
        self.max_chars = max_chars
        # the worked examples' text: a small model copies it into its description of another answer
        shown = render_messages(self.template, question="", reference="", answer="")[1:-1]
        texts = [m["content"] if m["role"] == "user" else str(parse_json_object(m["content"]).get("description", ""))
                 for m in shown]  # the examples' questions, answers and descriptions, not their skill names
        self._example_spans = set().union(*(_spans(t) for t in texts)) if texts else set()

    def copies_example(self, description: str, item: OracleItem) -> bool:
        """The description repeats two subject words of a worked example in a row ("three colours", "hours
        minutes"), not both words of this item; the vocabulary of judging an answer (``_STOP``) never counts."""
        own = set(_words(f"{item.question} {item.reference} {item.answer}"))
        return any(not set(span) <= own for span in _spans(description) & self._example_spans)

    def format_input(self, item: OracleItem) -> Messages:
        return render_messages(self.template, question=_cut(item.question, self.max_chars),
                               reference=_cut(item.reference, self.max_chars),
                               answer=_cut(item.answer, self.max_chars) or "(no answer)")

    def parse_output(self, text: str, item: OracleItem) -> FindingReply:
        obj = parse_json_object(text)
        deficient = _bool(obj.get("deficient"))
        raw = obj.get("missing_skills", [])
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise ParseError('"missing_skills" must be a list of short strings')
        # casefold AFTER the entity check: lower case would hide "Paris" from it
        skills, seen = [], set()
        for s in raw:
            c = clean_skill(s)
            if c and c not in seen and len(c.split()) <= 8:
                seen.add(c)
                skills.append((s.strip(), c))
        if deficient and len(skills) < 2:
            raise ParseError('a deficient answer needs 2 to 5 different "missing_skills"')
        skills = skills[:5]  # more than five: the first five, as the prompt ranks them
        desc = obj.get("description", "")
        if not isinstance(desc, str):
            raise ParseError('"description" must be one line of text')
        desc = " ".join(desc.split())[:400]
        sev = obj.get("severity", 0)
        if isinstance(sev, str) and sev.strip().isdigit():
            sev = int(sev.strip())
        if not isinstance(sev, int) or isinstance(sev, bool) or not 0 <= sev <= 3:
            raise ParseError('"severity" must be an integer 0 to 3')
        if deficient and sev == 0:
            sev = 1  # a deficiency with no severity is at least minor
        if self.copies_example(desc, item):
            raise ParseError(f"{COPY_PREFIX}; describe THIS student's answer")
        found = finding_entities([s for s, _ in skills], desc)
        if found:
            raise ParseError(f"{ENTITY_PREFIX} ({', '.join(found[:5])}); describe the weakness as general skills")
        return FindingReply(deficient, [c for _, c in skills] if deficient else [], desc, sev if deficient else 0)
