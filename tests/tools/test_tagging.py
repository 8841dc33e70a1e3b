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
    got = parse_tags(reply, S)
    assert (got["en"], got["zh"]) == (["python programming", "sorting algorithms"], ["Python编程", "排序算法"])
    assert got["dropped"] == ({"coarse": 1} if "knowledge" in reply else {})


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
    assert got == {"en": ["python programming", "sorting"], "zh": ["Python编程", "排序", "sorting"],
                   "dropped": {"wrong_script": 1, "too_long": 1}}


def test_a_list_packed_into_one_string_is_split():
    got = parse_tags('{"en": ["recycling, environmental impact"], "zh": ["回收，环境影响"]}', S)
    assert got == {"en": ["recycling", "environmental impact"], "zh": ["回收", "环境影响"], "dropped": {}}


def test_the_task_checks_copied_tags_against_the_dialogue_it_formatted():
    reply = '{"en": ["poetry composition", "contract law"], "zh": ["诗歌创作", "合同法"]}'
    with pytest.raises(ParseError, match="copied"):
        TASK.parse_output(reply, [{"role": "user", "content": "what is the boiling point of water?"}])
    poem = [{"role": "user", "content": "write a poem about contract law"}]
    assert TASK.parse_output(reply, poem)["en"] == ["poetry composition", "contract law"]
    assert TASK.name == "tag" and TASK.role == "tagger" and TASK.json_mode


# Which tags count as named entities (tools/tagging.py, "Named entities"): a person, place, organisation, product,
# work or event named by two or more words ("stephen hawking", "new york city", "microsoft excel", "world war ii");
# a skill qualified by one technology's name is not ("python programming", "sql query optimization", "excel
# formulas"), nor a field in Title Case ("Data Analysis", "Machine Learning").
@pytest.mark.parametrize("en,zh,dialogue,dropped_en", [
    (["Stephen Hawking", "physics concepts", "biography writing"], ["斯蒂芬·霍金", "物理概念", "传记写作"],
     "User: Write a short biography of Stephen Hawking.", ["stephen hawking"]),
    (["stephen hawking", "physics concepts", "biography writing"], ["霍金", "物理概念", "传记写作"],
     "User: Stephen Hawking was a physicist. Summarize his work.", ["stephen hawking"]),
    (["history of World War II", "historical analysis", "essay writing"], ["二战历史", "历史分析", "论文写作"], "",
     ["history of world war ii"]),
    (["world war ii history", "historical analysis", "essay writing"], ["二战历史", "历史分析", "论文写作"],
     "User: What caused World War II? Explain the causes of World War II.", ["world war ii history"]),
    (["microsoft excel", "spreadsheet formulas", "data entry"], ["微软Excel", "电子表格公式", "数据录入"],
     "User: how do I use Microsoft Excel to sum a column?", ["microsoft excel"]),
    (["travel itinerary planning", "new york city guide", "budget planning"], ["旅行规划", "纽约指南", "预算规划"],
     "User: plan a trip to New York City for three days", ["new york city guide"]),
])
def test_named_entity_tags_are_dropped_and_counted_in_both_languages(en, zh, dialogue, dropped_en):
    import json
    got = parse_tags(json.dumps({"en": en, "zh": zh}, ensure_ascii=False), S, dialogue)
    assert [t for t in (x.lower() for x in en) if t not in got["en"]] == dropped_en
    assert len(got["zh"]) == len(zh) - 1  # its translation goes too (by position, or by its own marks)
    assert got["dropped"]["named_entity"] == 2


@pytest.mark.parametrize("en,zh,dialogue", [
    (["Python Programming", "SQL query optimization", "Data Analysis"], ["Python编程", "SQL查询优化", "数据分析"],
     "User: I work in Data Science. How do I optimize a SQL query in Python?"),
    (["machine learning", "excel formulas", "data collection"], ["机器学习", "Excel公式", "数据收集"],
     "User: Step 1: Data Collection\nUse Excel formulas for Machine Learning features."),
    (["market research", "customer service", "report writing"], ["市场调研", "客户服务", "报告写作"],
     "## Market Research\nAssistant: a plan for Market Research and Customer Service in one report."),
    (["hawking radiation", "black hole physics"], ["霍金辐射", "黑洞物理"], "User: explain Hawking radiation."),
])
def test_skills_that_mention_a_technology_or_are_title_cased_are_kept(en, zh, dialogue):
    import json
    got = parse_tags(json.dumps({"en": en, "zh": zh}, ensure_ascii=False), S, dialogue)
    assert got["en"] == [t.lower() for t in en] and got["zh"] == zh and "named_entity" not in got["dropped"]


def test_chinese_titles_and_a_reply_left_with_only_entities_is_rejected_with_the_reason():
    got = parse_tags('{"en": ["literary analysis", "character analysis", "essay writing"], '
                     '"zh": ["文学分析", "红楼梦人物分析", "论文写作"]}', S, "User: 请分析《红楼梦》中的人物。")
    assert got["zh"] == ["文学分析", "论文写作"] and got["dropped"] == {"named_entity": 1}
    with pytest.raises(ParseError, match="names an entity"):
        parse_tags('{"en": ["stephen hawking", "physics concepts"], "zh": ["霍金", "物理概念"]}', S,
                   "User: tell me about the life of Stephen Hawking")


def test_the_prompt_tells_the_tagger_not_to_name_entities():
    text = TASK.format_input([{"role": "user", "content": "hi"}])[0]["content"]
    assert "stephen hawking" in text and "no names of people, places, organisations" in text
