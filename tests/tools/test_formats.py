import pytest

from tools.formats import RecordSkip, content_hash, detect_lang, to_canonical


def sg(*turns, **extra):
    return {"conversations": [{"from": r, "value": v} for r, v in turns], **extra}


def test_sharegpt_roles_map_and_leading_assistant_is_trimmed():
    c = to_canonical(sg(("gpt", "orphan answer"), ("human", "Q"), ("chatgpt", "A"), ("user", "Q2"), ("bard", "A2"),
                        id="x_1"))
    assert [m["role"] for m in c.messages] == ["user", "assistant", "user", "assistant"]
    assert "leading_assistant_trimmed" in c.notes and c.record_id == "x_1"


def test_consecutive_turns_merge_and_trailing_user_drops():
    c = to_canonical(sg(("system", "be nice"), ("human", "a"), ("human", "b"), ("gpt", "c"), ("human", "dangling")))
    assert c.messages == [{"role": "system", "content": "be nice"}, {"role": "user", "content": "a\n\nb"},
                          {"role": "assistant", "content": "c"}]
    assert set(c.notes) == {"consecutive_merged", "trailing_user_trimmed"}


@pytest.mark.parametrize("record,reason", [
    (sg(), "empty"), (sg(("human", "  "), ("gpt", "")), "empty"), (sg(("gpt", "only answer")), "no_exchange"),
    (sg(("human", "only question")), "no_exchange"), (sg(("human", "q"), ("tool", "x")), "unknown_role"),
    ({"foo": 1}, "wrong_schema"), ([1, 2], "wrong_schema"), ({"conversations": "nope"}, "wrong_schema"),
    ({"messages": [{"content": "no role"}]}, "wrong_schema"), ({"instruction": "", "output": "x"}, "no_exchange"),
])
def test_skips_have_reasons(record, reason):
    with pytest.raises(RecordSkip) as exc:
        to_canonical(record)
    assert exc.value.reason == reason


def test_alpaca_with_input_system_and_history():
    c = to_canonical({"instruction": "Translate", "input": "hola", "output": "hello", "system": "S",
                      "history": [["hi", "hey"]]})
    assert c.schema == "alpaca"
    assert c.messages == [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
                          {"role": "assistant", "content": "hey"}, {"role": "user", "content": "Translate\n\nhola"},
                          {"role": "assistant", "content": "hello"}]


def test_openai_content_parts():
    c = to_canonical({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                   {"role": "assistant", "content": "yo"}]})
    assert c.messages[0]["content"] == "hi"


def test_hash_ignores_whitespace_runs_but_not_case():
    a = [{"role": "user", "content": "Hello   world\n"}, {"role": "assistant", "content": "x"}]
    b = [{"role": "user", "content": "Hello world"}, {"role": "assistant", "content": "x"}]
    c = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "x"}]
    assert content_hash(a) == content_hash(b) != content_hash(c)


@pytest.mark.parametrize("text,lang", [
    ("How do I reverse a linked list in Python?", "en"), ("请解释一下量子纠缠是什么。", "zh"),
    ("用Python写一个快速排序 function", "zh"), ("¿Cómo puedo aprender a programar en Python de la manera más rápida?",
                                          "other"),
    ("Quels sont les meilleurs livres pour apprendre le français et la grammaire ?", "other"),
    ("日本語で自己紹介を書いてください", "other"), ("Explain the word 你好 to me please, what does it mean in the "
                                      "context of a greeting?", "en"), ("12345 + 678", "other"),
])
def test_language_detection(text, lang):
    assert detect_lang([{"role": "user", "content": text}, {"role": "assistant", "content": "x"}]) == lang
