import jinja2
import pytest

from settings import TaggingSettings
from tools.llm_parse import ParseError
from tools.prompts import render, render_messages
from tools.tagging import TagTask, conversation_text, parse_tags

S = TaggingSettings()
TASK = TagTask(S)


def test_format_input_renders_rules_and_dialogue():
    msgs = TASK.format_input([{"role": "system", "content": "ignored"}, {"role": "user", "content": "Sort a list"},
                              {"role": "assistant", "content": "Use sorted()"}])
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "2 to 8 tags" in msgs[0]["content"] and '"python programming" / "Python编程"' in msgs[0]["content"]
    assert msgs[1]["content"].endswith("User: Sort a list\nAssistant: Use sorted()")


def test_long_conversations_are_cut_by_the_documented_rule():
    s = TaggingSettings(max_chars=1200, first_turn_chars=500, turn_chars=100)
    msgs = [{"role": "user", "content": "A" * 2000}, {"role": "assistant", "content": "B" * 2000}] * 5
    text = conversation_text(msgs, s)
    lines = text.split("\n")
    assert lines[0] == "User: " + "A" * 500 + " [...]"
    assert lines[1] == "Assistant: " + "B" * 100 + " [...]"
    assert lines[-1] == "[... later turns omitted]" and len(text) <= 1200 + 40


@pytest.mark.parametrize("reply", [
    '{"en": ["Python Programming", "sorting algorithms"], "zh": ["Python编程", "排序算法"]}',
    '```json\n{"en": ["python programming", "sorting algorithms"], "zh": ["Python编程", "排序算法"]}\n```',
    'Here you go:\n{"en": ["python programming.", " sorting  algorithms", "knowledge"], "zh": ["Python编程", "排序算法"]}',
])
def test_good_and_fenced_replies_parse_and_clean(reply):
    assert parse_tags(reply, S) == {"en": ["python programming", "sorting algorithms"], "zh": ["Python编程", "排序算法"]}


@pytest.mark.parametrize("reply,match", [
    ('{"en": ["python programming", "sorting"]}', '"zh" must be a list'),
    ('{"en": ["python programming", "sorting"], "zh": ["Python编程"', "not valid JSON|no \\{"),
    ("I think the tags are python and sorting.", "not JSON"),
    ('{"en": ["python programming"], "zh": ["Python编程"]}', "needs 2 to 8"),
    ('{"en": ["python编程", "sorting"], "zh": ["Python编程", "排序"]}', "contains Chinese"),
    ('{"en": ["python programming", "sorting"], "zh": ["programming", "sorting"]}', "written in Chinese"),
    ('{"en": ["a tag that is really a whole sentence describing what the user wants", "x y"], "zh": ["编程", "排序"]}',
     "too long"),
    ('{"en": [1, 2], "zh": ["编程", "排序"]}', "not a string"),
])
def test_partial_and_garbage_replies_are_rejected_with_a_reason(reply, match):
    with pytest.raises(ParseError, match=match):
        parse_tags(reply, S)


def test_untranslatable_terms_may_stay_in_the_zh_list():
    got = parse_tags('{"en": ["javascript", "web development"], "zh": ["JavaScript", "网页开发"]}', S)
    assert got["zh"] == ["JavaScript", "网页开发"]


def test_extra_tags_are_cut_and_duplicates_dropped():
    en = [f"skill {k}" for k in range(12)] + ["skill 0"]
    zh = [f"技能{k}" for k in range(12)]
    got = parse_tags(f'{{"en": {en!r}, "zh": {zh!r}}}'.replace("'", '"'), S)
    assert got["en"] == [f"skill {k}" for k in range(8)] and len(got["zh"]) == 8


def test_copied_style_tags_are_rejected_unless_the_dialogue_needs_them():
    reply = '{"en": ["poetry composition", "contract law"], "zh": ["诗歌创作", "合同法"]}'
    with pytest.raises(ParseError, match="copied"):
        parse_tags(reply, S, dialogue="User: what is the boiling point of water?")
    assert parse_tags(reply, S, dialogue="User: write a poem about contract law")["en"][0] == "poetry composition"


def test_prompt_templates_are_strict():
    with pytest.raises(jinja2.UndefinedError):
        render("tagger.j2", min_tags=2, max_tags=8, style=[])
    msgs = render_messages("domain_induce.j2", tags=[("python programming", 3)], max_domains=5, min_domains=2,
                           target=3)
    assert msgs[-1]["role"] == "user" and "- python programming (3)" in msgs[-1]["content"]


def test_single_bad_tags_are_dropped_when_enough_good_ones_remain():
    got = parse_tags('{"en": ["python programming", "sorting", "doctor照顾", "' + "x" * 80 + '"], '
                       '"zh": ["Python编程", "排序", "sorting"]}', S)
    assert got == {"en": ["python programming", "sorting"], "zh": ["Python编程", "排序", "sorting"]}


def test_a_list_packed_into_one_string_is_split():
    got = parse_tags('{"en": ["recycling, environmental impact"], "zh": ["回收，环境影响"]}', S)
    assert got == {"en": ["recycling", "environmental impact"], "zh": ["回收", "环境影响"]}


def test_the_task_checks_copied_tags_against_the_dialogue_it_formatted():
    reply = '{"en": ["poetry composition", "contract law"], "zh": ["诗歌创作", "合同法"]}'
    with pytest.raises(ParseError, match="copied"):
        TASK.parse_output(reply, [{"role": "user", "content": "what is the boiling point of water?"}])
    poem = [{"role": "user", "content": "write a poem about contract law"}]
    assert TASK.parse_output(reply, poem)["en"] == ["poetry composition", "contract law"]
    assert TASK.name == "tag" and TASK.role == "tagger" and TASK.json_mode
