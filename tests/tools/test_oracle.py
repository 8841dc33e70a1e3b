"""The oracle task without a model: prompt formatting, strict parsing of findings, the named-entity rejection."""
import json

import pytest

from tools.llm_parse import ParseError
from tools.oracle import ENTITY_PREFIX, DiagnoseTask, OracleItem, clean_skill

ITEM = OracleItem("What is 17 x 23?", "17 x 23 = 391.", "It is 381.")
GOOD = {"description": "The student multiplies wrongly.", "deficient": True, "severity": 2,
        "missing_skills": ["Multi-digit Multiplication", "arithmetic checking", "multi-digit multiplication"]}


def test_prompt_carries_question_reference_and_answer_cut_to_the_limit():
    task = DiagnoseTask("oracle", max_chars=300)
    msgs = task.format_input(OracleItem("Q" * 1000, "R", ""))
    assert msgs[0]["role"] == "system" and "named entities" in msgs[0]["content"].lower()
    user = msgs[-1]["content"]
    assert "Q" * 300 + " [... cut]" in user and "Q" * 301 not in user and "(no answer)" in user
    assert task.name == "oracle_diagnose" and task.role == "oracle" and task.json_mode


def test_a_good_finding_parses_with_skills_cleaned_and_deduplicated():
    f = DiagnoseTask().parse_output(json.dumps(GOOD), ITEM)
    assert f.deficient and f.severity == 2 and f.description == "The student multiplies wrongly."
    assert f.skills == ["multi-digit multiplication", "arithmetic checking"]


def test_a_fenced_reply_with_prose_around_it_parses():
    text = "Here is my verdict:\n```json\n" + json.dumps(GOOD) + "\n```"
    assert DiagnoseTask().parse_output(text, ITEM).skills[0] == "multi-digit multiplication"


def test_a_fine_answer_has_no_skills_and_no_severity():
    f = DiagnoseTask().parse_output(json.dumps({"description": "Right.", "deficient": "false", "severity": 2,
                                                "missing_skills": ["x y"]}), ITEM)
    assert not f.deficient and f.skills == [] and f.severity == 0


@pytest.mark.parametrize("reply, why", [
    ({"description": "bad", "deficient": True, "severity": 2, "missing_skills": []}, "missing_skills"),
    ({"description": "bad", "deficient": True, "severity": 2, "missing_skills": ["a b", "A B"]}, "missing_skills"),
    ({"description": "bad", "deficient": True, "severity": 7, "missing_skills": ["a b", "c d"]}, "severity"),
    ({"description": "bad", "deficient": "maybe", "severity": 1, "missing_skills": ["a b", "c d"]}, "deficient"),
    ({"description": "bad", "deficient": True, "severity": 1, "missing_skills": "a b"}, "missing_skills"),
    ({"description": ["bad"], "deficient": True, "severity": 1, "missing_skills": ["a b", "c d"]}, "description"),
])
def test_a_partial_or_wrong_finding_is_refused_with_a_reason(reply, why):
    with pytest.raises(ParseError, match=why):
        DiagnoseTask().parse_output(json.dumps(reply), ITEM)


def test_garbage_is_refused():
    with pytest.raises(ParseError):
        DiagnoseTask().parse_output("The student is weak at maths.", ITEM)


@pytest.mark.parametrize("skills, desc", [
    (["knowledge of Shakespeare's plays", "literary analysis"], "Misses the themes."),
    (["european geography", "river systems"], "The answer gets the rivers of Brazil wrong."),
    (["spreadsheet formulas", "pivot tables"], "Does not know Microsoft Excel menus."),
    (["文学分析", "人物关系"], "不理解《红楼梦》的人物。"),
])
def test_a_finding_that_names_an_entity_is_refused_naming_it(skills, desc):
    reply = {"description": desc, "deficient": True, "severity": 2, "missing_skills": skills}
    with pytest.raises(ParseError, match=ENTITY_PREFIX):
        DiagnoseTask().parse_output(json.dumps(reply, ensure_ascii=False), ITEM)


def test_skill_phrases_are_normalised():
    assert clean_skill('  "Recursion   in Python."  ') == "recursion in python"


def test_a_description_copied_from_the_worked_example_is_sent_back():
    task = DiagnoseTask()
    shop = OracleItem("Write a survey question about online shopping.", "How often do you shop online?", "Shopping.")
    copied = {"description": "The student does not list the three primary colors of paint.", "deficient": True,
              "severity": 2, "missing_skills": ["survey design", "question writing"]}
    with pytest.raises(ParseError, match="worked example"):
        task.parse_output(json.dumps(copied), shop)
    us = {**copied, "description": "The student writes primary colors of paint."}  # the demo's copy, US spelling
    with pytest.raises(ParseError, match="worked example"):
        task.parse_output(json.dumps(us), shop)
    # the same words are fine when the item itself is about them
    time = OracleItem("How many minutes are in 2 hours?", "120 minutes.", "200")
    own = {"description": "The answer converts the hours into minutes wrongly.", "deficient": True, "severity": 3,
           "missing_skills": ["unit conversion", "time arithmetic"]}
    assert task.parse_output(json.dumps(own), time).deficient


@pytest.mark.parametrize("desc", ["The student does not explain the steps.", "The answer gets the wrong result.",
                                  "The student lists only one example and misses two steps.",
                                  "The student does not list three reasons."])
def test_the_vocabulary_of_judging_an_answer_is_not_a_copy_of_the_example(desc):
    shop = OracleItem("Write a survey question about online shopping.", "How often do you shop online?", "Shopping.")
    reply = {"description": desc, "deficient": True, "severity": 2, "missing_skills": ["survey design", "clarity"]}
    assert DiagnoseTask().parse_output(json.dumps(reply), shop).description == desc

