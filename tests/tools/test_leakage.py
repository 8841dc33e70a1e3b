"""Benchmark files, the n-gram test and the two-stage decision, without a model."""
import json

import pytest

from settings.evolution import LeakageSettings
from tools.leakage import (BenchFileError, BenchPrompt, SameTaskCheck, combine, containment, fingerprint, judge_pairs,
                           load_file, prompts_of, user_turns)
from tools.llm_parse import ParseError


@pytest.mark.parametrize("record, expected", [
    ("Just a prompt", ["Just a prompt"]),
    ({"key": 1, "prompt": "P"}, ["P"]),
    ({"instruction": "Do X", "input": "data"}, ["Do X\n\ndata"]),
    ({"question": "Q?", "text": "ignored"}, ["Q?"]),
    ({"turns": ["first", "second"]}, ["first", "second"]),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"},
                   {"role": "assistant", "content": "a"}, {"role": "user", "content": "u2"}]}, ["u1", "u2"]),
    ({"conversations": [{"from": "human", "value": "h"}, {"from": "gpt", "value": "g"}]}, ["h"]),
])
def test_the_prompt_field_is_found_in_documented_order(record, expected):
    assert prompts_of(record) == expected


def test_files_load_with_refs_and_bad_records_name_the_file_and_record(tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text(json.dumps({"id": "a", "turns": ["t one", "t two"]}) + "\n" + json.dumps({"prompt": "p"}) + "\n")
    prompts = load_file(good)
    assert [(p.benchmark, p.ref, p.text) for p in prompts] == [("mine", "a/t1", "t one"), ("mine", "a/t2", "t two"),
                                                                ("mine", "1", "p")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "fine"}) + "\n" + json.dumps({"answer": 3}) + "\n{oops\n")
    with pytest.raises(BenchFileError, match=r"bad.jsonl: 2 unreadable records.*record 1 .*no prompt field.*"
                                             r"keys: \['answer'\].*record 2"):
        load_file(bad)
    with pytest.raises(BenchFileError, match="does not exist"):
        load_file(tmp_path / "missing.json")
    array = tmp_path / "arr.json"
    array.write_text(json.dumps([{"instruction": "x"}, {"instruction": "y"}]))
    assert [p.text for p in load_file(array)] == ["x", "y"]


def test_containment_counts_the_benchmark_prompts_ngrams_in_the_item():
    bench = "What is the meaning of life?"
    assert containment(bench, "Question: what is the meaning of life? Explain in 5 paragraphs.", 3) == 1.0
    assert containment(bench, "What is the meaning of a word?", 3) == 0.75  # 3 of its 4 trigrams
    assert containment("can you write code?", "can you write code?", 3) == 0.0  # too short to identify
    assert containment("请告诉我华特迪士尼的历史和他的公司", "华特迪士尼的历史和他的公司是什么", 3) > 0.6  # characters


S = LeakageSettings(remove_threshold=0.9, band_low=0.75, ngram_threshold=0.5)
P = BenchPrompt("b", "1", "What is the meaning of life? Answer in one sentence.")


def test_two_stage_decision():
    assert judge_pairs(["x"], [[(P, 0.95)]], S).leak.method == "semantic"
    wrapped = judge_pairs(["Hi! What is the meaning of life? Answer in one sentence."], [[(P, 0.8)]], S)
    assert wrapped.leak.method == "ngram" and wrapped.leak.ngram == 1.0
    open_ = judge_pairs(["Tell me, briefly, why we live."], [[(P, 0.8)]], S)
    assert open_.leak is None and len(open_.undecided) == 1  # for the LLM check when enabled
    assert judge_pairs(["unrelated"], [[(P, 0.5)]], S).matches == []
    second = judge_pairs(["first turn", "second turn"], [[(P, 0.3)], [(P, 0.97)]], S)
    assert second.leak.turn == 1


MINI = LeakageSettings(remove_threshold=0.9, band_low=0.75)  # each embedder's own cuts (its similarity scale)
USE = LeakageSettings(remove_threshold=0.95, band_low=0.6)
Q = BenchPrompt("b", "2", "How can I develop my critical thinking skills?")


def both(turn: str, mini: list, use: list):
    return combine([judge_pairs([turn], [mini], MINI, "mini"), judge_pairs([turn], [use], USE, "use")])


def test_embedders_combine_removed_when_any_removes_band_when_any_has_one_and_none_removes():
    # removed by MiniLM alone (USE only has it in its band): the leak names MiniLM and its cosine
    en = both("Tell me in one sentence what life means.", [(P, 0.93)], [(P, 0.88)])
    assert (en.leak.model, en.leak.similarity, en.leak.method) == ("mini", 0.93, "semantic")
    assert en.for_judge() == [] and en.best == {"mini": 0.93, "use": 0.88}
    # removed by USE alone: MiniLM's 0.6 is below its own band, USE's 0.96 at its cut
    assert both("t", [(P, 0.6)], [(P, 0.96)]).leak.model == "use"
    # the same cosine means different things per model: 0.92 removes under MiniLM's cuts, is a band pair under USE's
    assert both("t", [(P, 0.92)], [(P, 0.5)]).leak is not None
    assert both("t", [(P, 0.5)], [(P, 0.92)]).leak is None
    # a translation only USE brings near its source: a band pair for the judge, nothing removed
    zh = both("我该如何培养自己的批判性思维能力？", [(P, 0.34)], [(Q, 0.84)])
    assert zh.leak is None and [(m.model, m.prompt, m.similarity) for m in zh.for_judge()] == [("use", Q, 0.84)]
    # both in their bands: one call when they point at the same prompt, one per prompt when they differ
    assert [m.model for m in both("t", [(P, 0.8)], [(P, 0.7)]).for_judge()] == ["mini"]
    assert [(m.model, m.prompt) for m in both("t", [(P, 0.8), (Q, 0.76)], [(Q, 0.7), (P, 0.65)]).for_judge()] == [
        ("mini", P), ("use", Q)]  # each model's strongest pair only
    # an n-gram hit in any model's band removes; nothing in any band is no match at all
    assert both("Hi! What is the meaning of life? Answer in one sentence.", [(P, 0.5)], [(P, 0.7)]).leak.method == \
        "ngram"
    # caught by both: the verbatim evidence names it, else the first embedder
    wrapped = "Hi! What is the meaning of life? Answer in one sentence."
    assert (lambda c: (c.leak.model, c.leak.method))(both(wrapped, [(P, 0.95)], [(P, 0.9)])) == ("use", "ngram")
    assert both("t", [(P, 0.95)], [(P, 0.97)]).leak.model == "mini"
    nothing = both("unrelated", [(P, 0.5)], [(Q, 0.4)])
    assert nothing.matches == [] and nothing.leak is None and nothing.for_judge() == []


def test_user_turns_and_fingerprint():
    msgs = [{"role": "user", "content": f"u{k}"} for k in range(5)]
    assert user_turns(msgs, 2) == ["u0", "u1"] and len(user_turns(msgs, 0)) == 5
    fp = fingerprint([P], S, "minilm")
    assert fp != fingerprint([P], S.model_copy(update={"remove_threshold": 0.8}), "minilm")
    assert fp != fingerprint([P, BenchPrompt("b", "2", "other")], S, "minilm") and fp != fingerprint([P], S, "bge")
    assert fingerprint([P], S, ["minilm", "use"]) not in (fp, fingerprint([P], S, ["minilm"]))


def test_same_task_prompt_and_strict_reply():
    task = SameTaskCheck("judge", chars=20)
    msgs = task.format_input(("Why is the sky blue? " * 5, "Tell me why the sky looks blue"))
    assert "Why is the sky blue?" in msgs[-1]["content"] and "Tell me why the sky" in msgs[-1]["content"]
    assert "Why is the sky blue? Why is the sky blue?" not in msgs[-1]["content"]  # cut to `chars`
    assert task.parse_output('{"same_task": true}', ("a", "b")) is True and task.name == "leakage_check"
    with pytest.raises(ParseError):
        task.parse_output('{"same_task": "probably"}', ("a", "b"))


def test_the_cosine_cuts_come_from_the_embedding_models_preset():
    raw = LeakageSettings()
    with pytest.raises(ValueError, match="for_model"):
        judge_pairs(["x"], [[(P, 0.99)]], raw)  # unresolved settings cannot be used by mistake
    use, mini = raw.for_model("use-multilingual-v3"), raw.for_model("/models/minilm-l6-v2")
    assert (use.remove_threshold, use.band_low) == (raw.bands["use-multilingual-v3"].remove_threshold,
                                                    raw.bands["use-multilingual-v3"].band_low)
    assert (mini.remove_threshold, mini.band_low) == (0.90, 0.75) and use.band_low < mini.band_low
    # a pair in USE's band is below MiniLM's: the same cosine means less on USE's lower similarity scale
    sim = (use.band_low + mini.band_low) / 2
    assert judge_pairs(["x"], [[(P, sim)]], use).matches and not judge_pairs(["x"], [[(P, sim)]], mini).matches
    assert fingerprint([P], use, "use-multilingual-v3") != fingerprint([P], mini, "use-multilingual-v3")
    # the guard compares with both by default, MiniLM first (it names a leak both catch)
    assert raw.models == ["minilm-l6-v2", "use-multilingual-v3"]
    with pytest.raises(ValueError, match="distinct"):
        LeakageSettings(models=["minilm-l6-v2", "minilm-l6-v2"])
    with pytest.raises(ValueError):
        LeakageSettings(models=[])
