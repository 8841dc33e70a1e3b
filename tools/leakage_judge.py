"""The leakage guard's LLM check on band pairs, with cross-lingual pairs judged in one language.

Measured on the labelled set (docs/leakage.md): the packaged 1.5B judge, shown a Chinese item beside an English
benchmark prompt, called every pair it saw "same", translations and same-subject questions alike (4 of 4 Chinese
same-subject items), while it kept 15 of 16 English same-subject pairs apart. Telling it to restate the item in
English inside the same call changed nothing (5 false positives either way). So a cross-lingual pair costs two calls:
the judge role first translates the item into the benchmark prompt's language (a faithful translation, numbers and
constraints kept, checked to be in that script), then compares the translation with the prompt as it compares a
same-language pair. A failed translation falls back to judging the original text, and is counted.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tools.leakage import SameTaskCheck
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

# The languages a turn is translated into, by the benchmark prompt's script. A prompt in another script is judged
# as a same-language pair: asking for a translation the reply check cannot accept would only waste two calls.
LANGUAGE_OF_SCRIPT = {"LATIN": "English", "CJK": "Chinese", "JAPANESE": "Japanese", "HANGUL": "Korean",
                      "CYRILLIC": "Russian", "ARABIC": "Arabic"}
CODE = re.compile(r"```.*?(```|$)|`[^`\n]*`", re.S)
SOURCE_CHARS = {"CJK": 500, "JAPANESE": 500, "HANGUL": 700}  # a source cut so its translation fits max_tokens
TRANSLATE_TOKENS = 768


def main_script(text: str) -> str:
    """The writing system most of a text's letters belong to (LATIN, CJK, JAPANESE, HANGUL, CYRILLIC, ...), from
    Unicode names, code spans left out; '' for a text with no letters, which is never called cross-lingual."""
    counts: dict[str, int] = {}
    for ch in CODE.sub(" ", text):
        if ch.isalpha():
            name = unicodedata.name(ch, "").split(" ")[0]
            script = "JAPANESE" if name in ("HIRAGANA", "KATAKANA") else name
            # one Han or hangul character carries about a word: weighted so "CSS和HTML有什么区别？" reads as Chinese
            counts[script] = counts.get(script, 0) + (3 if script in ("CJK", "HANGUL") else 1)
    if counts.get("JAPANESE") and counts.get("CJK"):  # kanji with kana is Japanese
        counts["JAPANESE"] += counts.pop("CJK")
    return max(counts, key=counts.get) if counts else ""


def cross_lingual(benchmark: str, item: str) -> bool:
    """Written in different scripts, and the benchmark prompt's is one a turn can be translated into."""
    a, b = main_script(benchmark), main_script(item)
    return bool(a and b and a != b and a in LANGUAGE_OF_SCRIPT)


class TranslateItem(LLMTask[tuple[str, str], str]):
    """(item text, target script) -> the item translated into that script's language, for the same-task check."""

    name, template = "leakage_translate", "leakage_translate.j2"

    def __init__(self, role: str = "judge", chars: int = 1200) -> None:
        super().__init__(role, max_tokens=TRANSLATE_TOKENS)
        self.chars = chars

    def source(self, text: str) -> str:
        return text[:min(self.chars, SOURCE_CHARS.get(main_script(text), self.chars))]

    def format_input(self, item: tuple[str, str]) -> Messages:
        return render_messages(self.template, text=self.source(item[0]),
                               language=LANGUAGE_OF_SCRIPT.get(item[1], "English"))

    def parse_output(self, text: str, item: tuple[str, str]) -> str:
        value = parse_json_object(text).get("translation")
        if not isinstance(value, str) or not value.strip():
            raise ParseError('"translation" must be a non-empty string')
        value = value.strip()
        if main_script(value) != item[1]:
            raise ParseError(f"the translation must be written in {LANGUAGE_OF_SCRIPT.get(item[1], 'English')}")
        if len(value) > 8 * len(self.source(item[0])) + 100:  # an answer to the instruction, not its translation
            raise ParseError("that is far longer than the TEXT: translate it, do not answer it")
        return value


@dataclass
class JudgeVerdict:
    ok: bool
    same: bool = False
    translation: str = ""  # what the judge compared, when the pair was cross-lingual and the translation worked


def judge_same_task(llm, pairs: list[tuple[str, str]], role: str = "judge") -> tuple[list[JudgeVerdict], dict]:
    """(benchmark prompt, item turn) pairs -> a verdict each, and counts: pairs, cross_lingual, translate_failed,
    judge_failed. Cross-lingual pairs are translated into the prompt's language first."""
    cross = [k for k, (b, t) in enumerate(pairs) if cross_lingual(b, t)]
    shown = [t for _, t in pairs]
    translated: dict[int, str] = {}
    if cross:
        results = llm.run(TranslateItem(role), [(pairs[k][1], main_script(pairs[k][0])) for k in cross])
        if len(results) != len(cross):
            raise RuntimeError(f"the LLM layer returned {len(results)} translations for {len(cross)} items")
        for k, r in zip(cross, results):
            if r.ok:
                translated[k] = shown[k] = r.value
    verdicts = llm.run(SameTaskCheck(role), [(b, s) for (b, _), s in zip(pairs, shown)]) if pairs else []
    if len(verdicts) != len(pairs):
        raise RuntimeError(f"the LLM layer returned {len(verdicts)} verdicts for {len(pairs)} pairs")
    out = [JudgeVerdict(r.ok, bool(r.ok and r.value), translated.get(k, "")) for k, r in enumerate(verdicts)]
    counts = {"pairs": len(pairs), "cross_lingual": len(cross), "translate_failed": len(cross) - len(translated),
              "judge_failed": sum(not v.ok for v in out)}
    return out, counts
