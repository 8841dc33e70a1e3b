"""The evolution units without a model: prompt formatting, strict parsing, and each rule check."""
import json
import random
from collections import Counter

import pytest

from settings.evolution import OPERATIONS, EvolutionSettings
from tools.evolution import (AnswerTask, EvolveTask, FollowupItem, FollowupTask, JudgeTask, SeedItem, answer_problem,
                             choose_operation, choose_rounds, earlier_operations, rule_check)
from tools.llm_parse import ParseError

SEED = SeedItem(1, 10, "Write a Python function that sorts a list of numbers.", "en",
                ["python programming", "sorting algorithms"], "software development")
S = EvolutionSettings().for_model("minilm-l6-v2")
EVOLVE, JUDGE, FOLLOW = EvolveTask("evolver"), JudgeTask("judge"), FollowupTask("evolver")


def format_evolve(seed, op):
    return EVOLVE.format_input((seed, op))


def parse_evolve(text):
    return EVOLVE.parse_output(text, (SEED, "breadth"))


def parse_judge(text):
    return JUDGE.parse_output(text, ("a", "b"))


def parse_followup(text, lang, earlier):
    return FOLLOW.parse_output(text, FollowupItem([], lang, earlier))


@pytest.mark.parametrize("op", OPERATIONS)
def test_each_operation_has_its_prompt_with_the_seed_metadata_and_a_worked_example(op):
    messages = format_evolve(SEED, op)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    last = messages[-1]["content"]
    assert SEED.instruction in last and "python programming, sorting algorithms" in last
    assert "software development" in last and "never answer" in messages[0]["content"]
    assert messages[2]["content"].startswith('{"instruction": ')
    assert len({format_evolve(SEED, o)[0]["content"] for o in OPERATIONS}) == 4


def test_unknown_operation_is_an_error():
    with pytest.raises(ValueError, match="unknown operation"):
        format_evolve(SEED, "shorten")


def test_parse_evolve_takes_the_instruction_and_strips_a_label():
    assert parse_evolve('{"instruction": "Instruction: Sort a list in O(n log n)."}') == "Sort a list in O(n log n)."
    assert parse_evolve('```json\n{"instruction": "Do X"}\n```') == "Do X"


@pytest.mark.parametrize("reply, message", [
    ('{"answer": "x"}', "non-empty string"), ('{"instruction": ""}', "non-empty string"),
    ("not json", "not JSON"), ('{"instruction": "#Rewritten Prompt#: sort"}', "rewriting task"),
    ('{"instruction": "Here is the rewritten instruction based on the original instruction: x"}', "rewriting task")])
def test_parse_evolve_rejects_bad_replies(reply, message):
    with pytest.raises(ParseError, match=message):
        parse_evolve(reply)


LONG = "Write a Python function that sorts a list of numbers using merge sort, and explain its complexity."


@pytest.mark.parametrize("evolved, op, sim, reason", [
    ("Sort it.", "deepening", 0.5, "too_short"),
    ("Write a Python sort.", "deepening", 0.5, "too_short"),  # under 0.6 x the seed's length
    ("write a python function that sorts a list of numbers!", "deepening", 0.5, "unchanged"),
    (LONG, "deepening", 0.98, "unchanged"),
    ("I'm sorry, but I cannot rewrite this instruction for you.", "deepening", 0.4, "refusal"),
    ("Sure! Here is a function: def sort(xs): return sorted(xs) and it works well.", "deepening", 0.6, "answered"),
    ("编写一个Python函数，使用归并排序对数字列表进行排序，并解释它的时间复杂度和空间复杂度。", "deepening", 0.6, "language_switch"),
    (LONG, "deepening", 0.85, ""),
    ("Write a regex that validates IPv4 addresses.", "breadth", 0.3, ""),  # breadth may be shorter
])
def test_rule_check(evolved, op, sim, reason):
    assert rule_check(SEED, evolved, op, sim, S)[0] == reason


def test_judge_prompt_and_verdicts():
    messages = JUDGE.format_input(("a", "b"))
    assert "ORIGINAL" in messages[-1]["content"] and "REWRITTEN" in messages[-1]["content"]
    ok = parse_judge('{"is_instruction": true, "answerable": true, "evolved": true, "reason": "adds a constraint"}')
    assert ok.rejection() == ("", "")
    assert parse_judge('{"is_instruction": false, "answerable": true, "evolved": true}').rejection()[0] == "answered"
    assert parse_judge('{"is_instruction": true, "answerable": "no", "evolved": true}').rejection()[0] == \
        "judge_rejected"
    assert parse_judge('{"is_instruction": "yes", "answerable": true, "evolved": false}').rejection()[0] == "unchanged"
    with pytest.raises(ParseError, match="answerable"):
        parse_judge('{"is_instruction": true, "answerable": "maybe", "evolved": true}')


def test_followup_prompt_shows_the_conversation_and_parsing_is_strict():
    messages = [{"role": "user", "content": "Explain sorting."}, {"role": "assistant", "content": "x" * 3000}]
    prompt = FOLLOW.format_input(FollowupItem(messages, "en", []))[-1]["content"]
    assert "User: Explain sorting." in prompt and "[...]" in prompt and len(prompt) < 2000
    assert parse_followup('{"message": "User: Can you show it in Rust too?"}', "en", []) == "Can you show it in Rust too?"
    for reply, message in [('{"message": "Sure! Here is the Rust version."}', "USER"),
                           ('{"message": "Explain sorting."}', "already asked"),
                           ('{"message": "能用Rust再写一遍这个排序函数吗？"}', "English"),
                           ('{"message": "ok"}', "at least 8")]:
        with pytest.raises(ParseError, match=message):
            parse_followup(reply, "en", ["Explain sorting."])


def test_answer_task_sends_the_dialogue_as_it_is_and_keeps_the_text():
    dialogue = [{"role": "user", "content": "Explain sorting."}]
    task = AnswerTask("evolver", max_tokens=64)
    assert task.format_input(dialogue) == dialogue and task.parse_output("Sorted.", dialogue) == "Sorted."
    assert not task.json_mode and not task.parses and task.max_tokens == 64 and task.name == "answer"


def test_answer_problems():
    assert answer_problem("A full answer.", "") == ""
    assert answer_problem(None, "the reply was cut off at the 20-token limit; be briefer") == "answer_cut"
    assert answer_problem("I'm sorry, I can't help with that.", "") == "answer_refused"
    assert answer_problem("  ", "") == "answer_refused"


def test_operation_and_round_choices_follow_the_weights():
    rng = random.Random(0)
    picks = Counter(choose_operation(rng, {"breadth": 0, "reasoning": 3, "concretizing": 1, "deepening": 0})
                    for _ in range(2000))
    assert set(picks) == {"reasoning", "concretizing"} and 2.5 < picks["reasoning"] / picks["concretizing"] < 3.5
    with pytest.raises(ValueError, match="weight 0"):
        choose_operation(rng, {op: 0 for op in OPERATIONS})
    rounds = Counter(choose_rounds(rng, [0.4, 0.3, 0.2, 0.1]) for _ in range(4000))
    assert set(rounds) == {1, 2, 3, 4} and rounds[1] > rounds[2] > rounds[3] > rounds[4]


def test_settings_refuse_unknown_operations_and_bad_round_weights():
    with pytest.raises(ValueError, match="operation_weights"):
        EvolutionSettings(operation_weights={"shorten": 1})
    with pytest.raises(ValueError, match="4 non-negative"):
        EvolutionSettings(turn_weights=[1, 1])
    assert EvolutionSettings(operation_weights={"breadth": 2}).operation_weights == \
        {"breadth": 2.0, "reasoning": 1.0, "concretizing": 1.0, "deepening": 1.0}


def test_the_unchanged_cut_is_a_preset_per_embedding_model_unless_set():
    raw = EvolutionSettings()
    assert raw.for_model("use-multilingual-v3").max_similarity == 0.92 and S.max_similarity == 0.97
    assert raw.for_model("/models/bge-m3").max_similarity == 0.97  # a model with no preset keeps MiniLM's cut
    assert EvolutionSettings(max_similarity=0.9).for_model("use-multilingual-v3").max_similarity == 0.9
    with pytest.raises(ValueError, match="for_model"):
        rule_check(SEED, "Explain the moon landing in three steps.", "deepening", 0.5, raw)


@pytest.mark.parametrize("op", OPERATIONS)
def test_the_prompt_names_the_seeds_language_so_a_chinese_seed_is_not_translated(op):
    zh = SeedItem(2, 11, "编写一个Python函数，对数字列表排序。", "zh", ["python programming"], "software development")
    last = format_evolve(zh, op)[-1]["content"]
    assert "Language: Chinese" in last and last.rstrip().endswith("Write the new instruction in Chinese, the language "
                                                                   "of this instruction.")
    assert "Language: English" in format_evolve(SEED, op)[-1]["content"]
    assert "the same language" in format_evolve(SeedItem(3, 12, "Écris une fonction.", "other", [], ""), op)[-1]["content"]


def test_a_retry_draws_an_operation_its_earlier_attempts_did_not_use():
    weights = dict.fromkeys(OPERATIONS, 1.0)
    for seed_id in range(50):
        key = f"0:{seed_id}"
        done = earlier_operations(key, 4, weights)
        assert sorted(done) == sorted(OPERATIONS)  # four attempts, four different operations
        assert earlier_operations(key, 2, weights) == done[:2]  # a replay: the same draws every time
        nxt = choose_operation(random.Random(f"{key}:2"), weights, done[:2])
        assert nxt == done[2] and nxt not in done[:2]
    # every operation tried: the draw falls back to all of them rather than failing
    assert choose_operation(random.Random(1), weights, list(OPERATIONS)) in OPERATIONS
    only = {"breadth": 1.0, "reasoning": 0.0, "concretizing": 0.0, "deepening": 0.0}
    assert earlier_operations("0:1", 3, only) == ["breadth"] * 3


@pytest.mark.parametrize("op", OPERATIONS)
def test_the_worked_example_sent_back_is_a_parse_error_so_the_model_gets_a_repair_round(op):
    example = json.loads(format_evolve(SEED, op)[2]["content"])["instruction"]
    with pytest.raises(ParseError, match="worked example"):
        EVOLVE.parse_output(json.dumps({"instruction": example.upper()}), (SEED, op))
