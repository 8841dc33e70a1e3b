"""The leakage guard's LLM check: scripts, the translation task, and cross-lingual pairs judged on a translation."""
import json

import pytest

from tools.leakage import SameTaskCheck
from tools.leakage_judge import TranslateItem, cross_lingual, judge_same_task, main_script
from tools.llm import LLMResult
from tools.llm_parse import ParseError


def test_the_main_script_weighs_a_cjk_character_like_a_word():
    assert main_script("Write a poem about the sea.") == "LATIN"
    assert main_script("写一首关于大海的诗。") == "CJK"
    assert main_script("CSS和HTML有什么区别？") == "CJK"  # 7 Latin letters, 6 Han characters
    assert main_script("Tell me the history of 北京, please") == "LATIN"
    assert main_script("print(1 + 2) # 3") == "LATIN" and main_script("12 + 34 = ?") == ""
    assert main_script("修正这段代码：```python\ndef add(a, b): return a - b\n```") == "CJK"  # code left out
    assert main_script("東京の天気を教えてください") == "JAPANESE" and main_script("서울의 날씨는 어때요?") == "HANGUL"
    assert cross_lingual("Explain quantum computing.", "解释量子计算。")
    assert not cross_lingual("Explain quantum computing.", "Explain qubits.") and not cross_lingual("2+2", "二加二")
    assert not cross_lingual("Γράψε ένα ποίημα για τη θάλασσα.", "Write a poem about the sea.")  # no target language


def test_translate_prompt_names_the_language_and_the_reply_must_be_in_it():
    task = TranslateItem("judge", chars=12)
    msgs = task.format_input(("已知 f(x) = 2x^2，求 f(3) 的值。", "LATIN"))
    assert "English" in msgs[0]["content"] and "<<<\n已知 f(x) = 2x\n>>>" in msgs[-1]["content"]  # cut to chars
    assert len(TranslateItem("judge").source("长" * 2000)) == 500 and len(TranslateItem("judge").source("a" * 2000)) == 1200
    assert task.parse_output('{"translation": " Given f(x) = 2x^2, find f(3). "}', ("x", "LATIN")) == \
        "Given f(x) = 2x^2, find f(3)."
    with pytest.raises(ParseError, match="English"):
        task.parse_output('{"translation": "已知 f(x) = 2x^2"}', ("x", "LATIN"))  # answered in the source language
    with pytest.raises(ParseError, match="do not answer"):
        task.parse_output(json.dumps({"translation": "A poem. " * 40}), ("写一首诗", "LATIN"))
    for bad in ('{"translation": ""}', '{"english": "Given f"}', '{"translation": 3}'):
        with pytest.raises(ParseError):
            task.parse_output(bad, ("x", "LATIN"))
    assert "Chinese" in task.format_input(("Explain it", "CJK"))[0]["content"]


class FakeLLM:
    """Answers TranslateItem from a table (None: a failed reply) and SameTaskCheck by exact text."""

    def __init__(self, translations: dict, same: set):
        self.translations, self.same, self.calls = translations, same, []

    def run(self, task, items):
        self.calls.append((type(task).__name__, list(items)))
        if isinstance(task, TranslateItem):
            return [LLMResult(self.translations.get(t), "", self.translations.get(t) is not None) for t, _ in items]
        assert isinstance(task, SameTaskCheck)
        return [LLMResult(t in self.same, "", True) for _, t in items]


def test_cross_lingual_pairs_are_judged_on_their_translation_and_a_failed_one_falls_back():
    pairs = [("Explain quantum computing in simple terms.", "用简单的话解释量子计算。"),
             ("Explain quantum computing in simple terms.", "量子计算机和传统计算机有什么不同？"),
             ("Write a haiku about autumn.", "Compose a haiku on autumn."),
             ("Write a haiku about autumn.", "写一首关于秋天的俳句。")]
    llm = FakeLLM({"用简单的话解释量子计算。": "Explain quantum computing in simple words.",
                   "量子计算机和传统计算机有什么不同？": "How do quantum computers differ from classical ones?",
                   "写一首关于秋天的俳句。": None},
                  same={"Explain quantum computing in simple words.", "Compose a haiku on autumn.", "写一首关于秋天的俳句。"})
    verdicts, counts = judge_same_task(llm, pairs)
    assert [v.same for v in verdicts] == [True, False, True, True] and all(v.ok for v in verdicts)
    assert [v.translation for v in verdicts] == ["Explain quantum computing in simple words.",
                                                 "How do quantum computers differ from classical ones?", "", ""]
    assert counts == {"pairs": 4, "cross_lingual": 3, "translate_failed": 1, "judge_failed": 0}
    (_, translated), (_, judged) = [c for c in llm.calls]
    assert [s for _, s in translated] == ["LATIN"] * 3  # into the benchmark prompt's script
    assert judged[2] == pairs[2] and judged[3] == pairs[3]  # same-language as is; the failed translation: original
    assert judge_same_task(FakeLLM({}, set()), []) == ([], {"pairs": 0, "cross_lingual": 0, "translate_failed": 0,
                                                            "judge_failed": 0})


def test_a_short_reply_from_the_llm_layer_is_an_error_not_a_silent_cut():
    class Short(FakeLLM):
        def run(self, task, items):
            return super().run(task, items)[:-1]

    with pytest.raises(RuntimeError, match="1 verdicts for 2 pairs"):
        judge_same_task(Short({}, set()), [("Write a haiku.", "Write a haiku."), ("Write a poem.", "Write a poem.")])
