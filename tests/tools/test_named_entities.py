"""The named-entity check on hand-written cases and, as a regression guard, on the labelled findings of
bench/findings_labelled.jsonl (docs/diagnosis.md gives the figures and says which are in-sample)."""
import json
from pathlib import Path

import pytest

from tools.named_entities import named_entities

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "findings_labelled.jsonl"


@pytest.mark.parametrize("text", [
    "recursive function design; base case reasoning",
    "Python list comprehension; SQL joins; HTML forms",
    "Bayes theorem application; Newton's laws of motion",
    "English grammar: subject-verb agreement",
    "The answer skips the proof. It also ignores the word limit.",
    "多步骤数学应用题求解",
])
def test_skill_language_passes(text):
    assert named_entities(text) == []


@pytest.mark.parametrize("text, entity", [
    ("facts about the Eiffel Tower", "Eiffel"),
    ("geography of Brazil", "Brazil"),
    ("iPhone camera settings", "iPhone"),
    ("rules of the FIFA World Cup", "FIFA"),
    ("summary of 'Pride and Prejudice'", "Pride and Prejudice"),
    ("北京的历史景点", "北京"),
    ("阿里巴巴公司的发展", "阿里巴巴公司"),
])
def test_entities_are_found_and_named(text, entity):
    assert any(entity in hit for hit in named_entities(text))


def test_the_labelled_findings_are_separated():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    flags = [(bool(named_entities(r["text"])), r["entity"]) for r in rows]
    tp = sum(f and e for f, e in flags)
    fp = sum(f and not e for f, e in flags)
    fn = sum(e and not f for f, e in flags)
    assert len(rows) == 87 and tp + fn == 40
    # the first run of the rules gave 0.95 / 0.95 (out of sample); below that a change made the check worse
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95
