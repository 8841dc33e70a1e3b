"""The difficulty task's prompt and strict parsing, and the fixed sample order (no model)."""
import pytest

from tools.difficulty import LEVELS, RateDifficulty, sample_order
from tools.llm_parse import ParseError


def test_format_puts_the_query_in_the_prompt_and_cuts_long_ones():
    msgs = RateDifficulty().format_input("Prove that sqrt(2) is irrational." + "x" * 5000)
    assert msgs[-1]["role"] == "user" and "sqrt(2)" in msgs[-1]["content"]
    assert len(msgs[-1]["content"]) < 2200 and "very hard" in msgs[0]["content"]


@pytest.mark.parametrize("reply, level", [('{"difficulty": "very easy"}', 0), ('{"difficulty": "Very_Hard"}', 4),
                                          ('{"intent": "x", "difficulty": " medium "}', 2),
                                          ('```json\n{"difficulty": "hard"}\n```', 3), ('{"difficulty": 1}', 1)])
def test_labels_and_numbers_parse(reply, level):
    assert RateDifficulty().parse_output(reply, "q") == level


@pytest.mark.parametrize("reply", ['{"difficulty": "impossible"}', '{"difficulty": 7}', '{"difficulty": true}',
                                   '{"level": "easy"}', "easy", '{"difficulty": null}', "[]"])
def test_anything_else_is_a_parse_error(reply):
    with pytest.raises(ParseError):
        RateDifficulty().parse_output(reply, "q")


def test_sample_order_does_not_depend_on_which_other_items_are_present():
    hashes = {i: f"h{i}" for i in range(50)}
    full = sample_order(hashes, seed=3)
    part = sample_order({i: h for i, h in hashes.items() if i % 2}, seed=3)
    assert [i for i in full if i % 2] == part and sorted(full) == list(range(50))
    assert sample_order(hashes, seed=4) != full and len(LEVELS) == 5
