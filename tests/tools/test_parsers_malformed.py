"""Every LLM task's parser on 1,000 generated malformed replies: it returns a value or raises ParseError (which the
LLM layer turns into a repair, then a counted rejection), never anything else. Replies are drawn from a seeded
generator: truncated JSON, wrong types, huge strings, control characters, another language, empty, fences, nesting.
"""
import json
import random

import pytest

from settings import TaggingSettings
from tools.difficulty import RateDifficulty
from tools.domain_extend import ExtendDomainsTask
from tools.domains import InduceDomainsTask, MapTagsTask, NameClusterTask
from tools.evolution import AnswerTask, answer_problem, EvolveTask, FollowupItem, FollowupTask, JudgeTask, SeedItem
from tools.leakage import SameTaskCheck
from tools.leakage_judge import TranslateItem
from tools.llm_parse import ParseError
from tools.oracle import DiagnoseTask, OracleItem
from tools.synthesis import JudgeSynthesisTask, SkillPlan, SynthesizeTask
from tools.tagging import TagTask

SEED = SeedItem(1, 10, "Write a Python function that sorts a list of numbers.", "en", ["sorting"], "software")
DOMAINS = [{"name": "mathematics", "description": "Numbers."}, {"name": "software", "description": "Code."}]
TASKS = [
    (EvolveTask("evolver"), (SEED, "deepening")),
    (JudgeTask("judge"), ("Sort a list.", "Sort a list of 10^6 floats stably and explain why.")),
    (FollowupTask("evolver"), FollowupItem([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                                           "en", [])),
    (AnswerTask("evolver"), [{"role": "user", "content": "q"}]),
    (TagTask(TaggingSettings()), [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]),
    (InduceDomainsTask("oracle", max_domains=5), [("calculus", 3), ("python", 2)]),
    (ExtendDomainsTask("oracle", max_domains=3), (DOMAINS, [("origami", 2)], [])),
    (MapTagsTask("tagger", DOMAINS), ["calculus", "python programming"]),
    (NameClusterTask("tagger"), ["calculus", "algebra"]),
    (SameTaskCheck("judge"), ("Tell me a joke.", "Tell me a joke about cats.")),
    (TranslateItem("judge"), ("讲一个笑话", "LATIN")),
    (DiagnoseTask("oracle"), OracleItem("What is 17 x 23?", "391", "381")),
    (SynthesizeTask("synthesizer"), SkillPlan(1, "unit conversion", "mathematics", None, [1], [2], [5], n=2)),
    (JudgeSynthesisTask("judge"), ("unit conversion", "Convert 3 miles to km and show each step.")),
    (RateDifficulty(), "Prove that there are infinitely many primes."),
]
FIELDS = ["instruction", "instructions", "is_instruction", "answerable", "evolved", "reason", "message", "en", "zh",
          "domains", "name", "description", "same_task", "translation", "deficient", "severity", "missing_skills",
          "exercises_skill", "difficulty", "intent", "1", "2"]
ODD = ["", " ", "\x00", "\x1b[31m", "\u202e", "\ud7ff", "日本語のテキスト", "Привет", "null", "NaN", "1e309", "-1",
       "{", "}", "[", "```", "```json", "\\", '"', "\n" * 50]


def value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return rng.choice([None, True, False, 0, -7, 3.5, 10 ** 30, float("inf")])
    if kind == 1:
        return rng.choice(ODD)
    if kind == 2:
        return "x" * rng.choice([1, 200, 20_000, 200_000])
    if kind == 3:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 40)))
    if kind == 4:
        return rng.choice(["very easy", "hard", "mathematics", "software", "sorting", "true", "false", "2"])
    if kind == 5:
        return rng.choice(["我们需要一个新的领域", "explain the steps", "Apple Inc. in Paris"])
    if kind == 6:
        return [value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
    return {rng.choice(FIELDS): value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def reply(rng: random.Random) -> str:
    obj = {rng.choice(FIELDS): value(rng) for _ in range(rng.randrange(0, 6))}
    text = json.dumps(obj if rng.random() < 0.8 else value(rng), ensure_ascii=rng.random() < 0.5, allow_nan=True)
    mode = rng.randrange(8)
    if mode == 0:
        text = text[:rng.randrange(0, max(1, len(text)))]  # truncated (a reply cut at max_tokens)
    elif mode == 1:
        text = f"```json\n{text}\n```" + rng.choice(["", "\nHope this helps!", "```"])
    elif mode == 2:
        text = rng.choice(ODD) + text + rng.choice(ODD)
    elif mode == 3:
        text = text.replace('"', "'")  # Python-style quotes
    elif mode == 4:
        text = "".join(ch if rng.random() > 0.05 else chr(rng.randrange(0, 32)) for ch in text)
    elif mode == 5:
        text = rng.choice(ODD) * rng.randrange(0, 3)
    return text


@pytest.mark.parametrize("task, item", TASKS, ids=[t.name for t, _ in TASKS])
def test_a_thousand_malformed_replies_give_a_value_or_a_parse_error(task, item):
    rng = random.Random(f"malformed:{task.name}")
    reasons = {}
    for _ in range(1000):
        text = reply(rng)
        try:
            got = task.parse_output(text, item)
            if not task.parses:  # a plain-text answer: the answer rules judge it, and must not crash either
                answer_problem(got, "")
                continue
        except ParseError as exc:
            assert str(exc), f"{task.name}: a ParseError must say what is wrong"
            reasons[str(exc)[:40]] = reasons.get(str(exc)[:40], 0) + 1
        except Exception as exc:  # the property: nothing but ParseError escapes a parser
            raise AssertionError(f"{task.name} raised {type(exc).__name__}: {exc!r} on {text[:200]!r}") from exc
    assert not task.parses or sum(reasons.values()) >= 500, f"{task.name}: most of these replies are unusable, yet few were rejected"
