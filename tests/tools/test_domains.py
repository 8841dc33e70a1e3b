import pytest

from tools.domains import cluster_tags, format_map, parse_induce, parse_map, parse_name, scaled_top_k
from tools.llm import ParseError

DOMAINS = '{"domains": [{"name": "Software Development", "description": "Programming and tools."}, ' \
          '{"name": "mathematics", "description": "Numbers and proofs."}, {"name": "other", "description": "x"}]}'


def test_induce_parses_names_and_drops_other():
    assert parse_induce(DOMAINS, max_domains=5) == [
        {"name": "software development", "description": "Programming and tools."},
        {"name": "mathematics", "description": "Numbers and proofs."}]


@pytest.mark.parametrize("reply,match", [
    ('{"domains": []}', "need 2 to 5"), ('{"domains": "math"}', "expected"),
    ('{"domains": [{"name": "a"}, {"name": "b"}]}', "description"),
    ('{"domains": [' + ",".join(f'{{"name": "domain {k}", "description": "d"}}' for k in range(9)) + "]}",
     "need 2 to 5"),
])
def test_induce_rejects_bad_lists(reply, match):
    with pytest.raises(ParseError, match=match):
        parse_induce(reply, max_domains=5)


def test_map_reads_numbers_and_names_and_sends_the_rest_to_other():
    got = parse_map('{"1": 2, "2": "1", "3": 0, "9": 1}', ["calculus", "python programming", "poetry", "cooking"],
                    ["software development", "mathematics"])
    assert got == {"calculus": "mathematics", "python programming": "software development", "poetry": "other",
                   "cooking": "other"}
    got = parse_map('{"mapping": {"Python Programming": "software development", "calculus": "Mathematics", '
                    '"poetry": "arts"}}', ["python programming", "calculus", "poetry", "cooking"],
                    ["software development", "mathematics"])
    assert got == {"python programming": "software development", "calculus": "mathematics", "poetry": "other",
                   "cooking": "other"}
    with pytest.raises(ParseError, match="no tag was given"):
        parse_map('{"mapping": {"a": "zzz", "b": "yyy"}}', ["a", "b"], ["mathematics"])


def test_map_prompt_lists_the_classification_standard():
    msgs = format_map(["calculus"], [{"name": "mathematics", "description": "Numbers and proofs."}])
    assert "1. mathematics: Numbers and proofs." in msgs[0]["content"] and "1. calculus" in msgs[1]["content"]


def test_name_and_scaling_and_clusters():
    assert parse_name('{"name": "Cooking", "description": "Food preparation."}')["name"] == "cooking"
    assert scaled_top_k(7_000_000, 7_000_000) == 1000 and scaled_top_k(300, 7_000_000) == 60
    import numpy as np
    v = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=float)
    labels = cluster_tags(v / np.linalg.norm(v, axis=1, keepdims=True), 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]
