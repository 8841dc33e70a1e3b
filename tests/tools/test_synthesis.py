"""The synthesizer's tasks and plan without a model."""
import json

import pytest

from settings import SynthesisSettings
from tools.llm_parse import ParseError
from tools.synthesis import JudgeSynthesisTask, SkillPlan, SynthesizeTask, group_examples, plan_skills


def row(fid, skill_id, name, severity=2, domain="mathematics", cid=None):
    return {"id": fid, "severity": severity, "description": "", "conversation_id": cid or 100 + fid,
            "domain": domain, "skill_id": skill_id, "name": name, "tag_id": None, "skill_domain": domain}


def test_items_per_skill_follow_frequency_severity_and_steering():
    rows = [row(1, 7, "unit conversion", 3), row(2, 7, "unit conversion", 3), row(3, 8, "poetry meter", 1, "writing"),
            row(4, 9, "sql joins", 2, "software")]
    s = SynthesisSettings(per_skill=1.0, max_per_skill=4, max_per_round=5)
    plans = plan_skills(rows, {"sql joins": 2.0}, {"writing": 0.5}, s)
    by = {p.name: p for p in plans}
    assert by["unit conversion"].weight == 3.0 and by["unit conversion"].n == 3  # 2 findings x 3/2
    assert by["sql joins"].weight == 2.0 and by["sql joins"].n == 2  # 1 x 2/2 x tag weight 2
    assert [p.name for p in plans] == ["unit conversion", "sql joins"]  # the budget of 5 is spent first on these
    assert by["unit conversion"].finding_ids == [1, 2] and by["unit conversion"].example_ids == [101, 102]


def test_every_skill_gets_at_least_one_and_at_most_the_cap():
    s = SynthesisSettings(per_skill=10.0, max_per_skill=3, max_per_round=100, examples=1)
    plans = plan_skills([row(1, 1, "a b", 1), row(2, 2, "c d", 3), row(3, 2, "c d", 3)], {}, {}, s)
    assert sorted(p.n for p in plans) == [3, 3]
    group_examples(plans, {101: "x", 102: "y", 103: "z"}, {}, 50, s.examples)
    assert sorted(len(p.examples) for p in plans) == [1, 1]
    tiny = plan_skills([row(1, 1, "a b", 1)], {}, {}, SynthesisSettings(per_skill=0.1))
    assert tiny[0].n == 1
    assert plan_skills([row(1, 1, "a b", 3)], {"a b": 0.0}, {}, s) == []  # weight 0: the user asked for none


def test_a_plan_takes_its_language_from_its_first_finding_even_without_examples():
    plans = plan_skills([row(1, 1, "a b", 2, cid=7)], {}, {}, SynthesisSettings(examples=0))
    group_examples(plans, {7: "一个问题"}, {7: "zh"}, 50, 0)
    assert plans[0].examples == [] and plans[0].lang == "zh"


def test_synthesis_prompt_names_skill_domain_count_examples_and_language():
    plan = SkillPlan(1, "unit conversion", "mathematics", None, [1], [2], [5], n=2)
    group_examples([plan], {5: "How many minutes are in 2.5 hours?"}, {5: "zh"}, 20, 2)
    user = SynthesizeTask("synthesizer").format_input(plan)
    text = user[0]["content"] + user[-1]["content"]
    assert "Skill: unit conversion" in text and "Domain: mathematics" in text and "Write 2 new" in text
    assert "How many minutes are [...]" in text and "simplified Chinese" in text and plan.lang == "zh"
    assert "fits in about 610 words" in text  # the default 1024-token answer cap, at 0.6 words a token
    short = SynthesizeTask("synthesizer", answer_max_tokens=512).format_input(plan)[0]["content"]
    assert "fits in about 300 words" in short


def test_synthesized_instructions_parse_strictly():
    plan = SkillPlan(1, "s", "d", None, [], [], [], n=2)
    task = SynthesizeTask("synthesizer")
    got = task.parse_output(json.dumps({"instructions": ["Instruction: Do A with care.", "do a with care", "Do B.",
                                                         "Do C."]}), plan)
    assert got == ["Do A with care.", "Do B."]  # label stripped, repeat dropped, cut to n
    # an Alpaca-style record where a string was asked for: instruction and input kept, the output never
    rec = {"instructions": [{"task": "Sort the list.", "input": "3, 1, 2", "output": "1, 2, 3"},
                            {"instruction": "Name a prime."}]}
    assert task.parse_output(json.dumps(rec), plan) == ["Sort the list.\n\n3, 1, 2", "Name a prime."]
    # the whole request in "input" (the demo's round-2 reply for "ascii art"): the input is the instruction
    rec = {"instructions": [{"input": "把 'Hi' 转换为 ASCII 码。", "output": "72,105"}, {"input": "画一只猫。"}]}
    assert task.parse_output(json.dumps(rec), plan) == ["把 'Hi' 转换为 ASCII 码。", "画一只猫。"]
    for bad in ("no json", json.dumps({"instructions": []}), json.dumps({"instructions": [3]}),
                json.dumps({"instructions": [{"output": "an answer"}]}),
                json.dumps({"instructions": [{"input": " ", "output": "an answer"}]})):
        with pytest.raises(ParseError):
            task.parse_output(bad, plan)


def test_the_synthesis_judge_rejects_off_skill_items():
    task = JudgeSynthesisTask("judge")
    assert "SKILL: sql joins" in task.format_input(("sql joins", "Write a poem."))[-1]["content"]
    v = task.parse_output(json.dumps({"reason": "no SQL", "is_instruction": True, "answerable": True,
                                      "exercises_skill": False}), ("sql joins", "Write a poem."))
    assert v.rejection()[0] == "off_skill"
    ok = task.parse_output('{"reason": "fits", "is_instruction": true, "answerable": true, "exercises_skill": true}',
                           ("a", "b"))
    assert ok.rejection() == ("", "")


def test_near_copies_of_diagnosis_items_are_rejected_by_cosine_and_by_a_verbatim_span(config):
    import numpy as np

    from tools.synthesize import check_rules

    class Embedder:  # cosine 0.99 to the diagnosis item for the first text, 0 for the others
        def encode(self, texts):
            return np.array([[1.0, 0.0] if "rephrased" in t else [0.0, 1.0] for t in texts])

    diag = ["Read the given text and determine if it is an opinion or a fact: global warming is causing the sea "
            "levels to rise"]
    plan = SkillPlan(1, "fact vs opinion", "reasoning", None, [], [], [], n=3)
    got = check_rules(config, Embedder(), plan, [
        "This is the rephrased instruction about opinions and facts in general terms, quite long enough.",
        "Say if this is an opinion or a fact: global warming is causing the sea levels to rise faster now.",
        "Decide whether the claim that coffee improves memory is a fact or an opinion, and explain why."],
        diag, np.array([[1.0, 0.0]]))
    assert got[0][0] == "near_copy" and "cosine" in got[0][1]
    assert got[1][0] == "near_copy" and "verbatim" in got[1][1]
    assert got[2][0] == ""


def test_a_whole_short_diagnosis_item_pasted_into_a_new_task_is_a_near_copy(config):
    import numpy as np

    from tools.synthesize import check_rules

    class Embedder:  # far from every diagnosis item: only the verbatim check can catch it
        def encode(self, texts):
            return np.array([[0.0, 1.0] for _ in texts])

    diag = ["List the three primary colours of paint.", "Tell me a joke."]  # 7 words (under the 10-word span), 4
    plan = SkillPlan(1, "colour theory", "art", None, [], [], [], n=2)
    got = check_rules(config, Embedder(), plan, [
        "Answer this, then explain colour mixing for a painter: list the three primary colours of paint.",
        "Tell me a joke. Then explain, in a short paragraph, why the joke works for an adult audience."],
        diag, np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert got[0][0] == "near_copy" and "whole diagnosis item" in got[0][1]
    assert got[1][0] == ""  # a 4-word item is a common phrase, not a held-out item


@pytest.mark.parametrize("reply", ['{"instructions": ["<instruction 1>", "<instruction 2>"]}',
                                   '{"instructions": ["Convert 3.5 miles to kilometres and show each step."]}',
                                   '{"instructions": ["...", "..."]}'])
def test_the_reply_format_copied_back_is_a_parse_error_so_the_writer_gets_one_more_try(reply):
    # the 1.5B returned the format line's placeholders as its instructions (a fresh run, 2026-12-02)
    plan = SkillPlan(1, "unit conversion", "mathematics", None, [1], [2], [5], n=2)
    with pytest.raises(ParseError, match="not placeholders"):
        SynthesizeTask("synthesizer").parse_output(reply, plan)
