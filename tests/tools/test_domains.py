import pytest

from tools.domains import InduceDomainsTask, MapTagsTask, NameClusterTask, cluster_tags, scaled_top_k
from tools.llm_parse import ParseError

INDUCE = InduceDomainsTask("oracle", max_domains=5)
MATH = [{"name": "mathematics", "description": "Numbers and proofs."}]

DOMAINS = '{"domains": [{"name": "Software Development", "description": "Programming and tools."}, ' \
          '{"name": "mathematics", "description": "Numbers and proofs."}, {"name": "other", "description": "x"}]}'


def test_induce_prompt_lists_the_tags_with_counts_and_the_target():
    msgs = INDUCE.format_input([("python programming", 40), ("calculus", 12)])
    text = "\n".join(m["content"] for m in msgs)
    assert msgs[-1]["role"] == "user" and "python programming" in text and "40" in text and "calculus" in text
    assert INDUCE.name == "induce_domains" and INDUCE.json_mode and INDUCE.role == "oracle"


def test_induce_parses_names_and_drops_other():
    assert INDUCE.parse_output(DOMAINS, []) == [
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
        INDUCE.parse_output(reply, [])


def test_map_reads_numbers_and_names_and_sends_the_rest_to_other():
    two = [{"name": "software development", "description": "Code."}, *MATH]
    got = MapTagsTask("tagger", two).parse_output('{"1": 2, "2": "1", "3": 0, "9": 1}',
                                                  ["calculus", "python programming", "poetry", "cooking"])
    assert got == {"calculus": "mathematics", "python programming": "software development", "poetry": "other",
                   "cooking": "other"}
    got = MapTagsTask("tagger", two).parse_output(
        '{"mapping": {"Python Programming": "software development", "calculus": "Mathematics", "poetry": "arts"}}',
        ["python programming", "calculus", "poetry", "cooking"])
    assert got == {"python programming": "software development", "calculus": "mathematics", "poetry": "other",
                   "cooking": "other"}
    with pytest.raises(ParseError, match="no tag was given"):
        MapTagsTask("tagger", MATH).parse_output('{"mapping": {"a": "zzz", "b": "yyy"}}', ["a", "b"])


def test_map_prompt_lists_the_classification_standard():
    msgs = MapTagsTask("tagger", MATH).format_input(["calculus"])
    assert "1. mathematics: Numbers and proofs." in msgs[0]["content"] and "1. calculus" in msgs[1]["content"]


def test_cluster_naming_prompt_and_reply():
    task = NameClusterTask("oracle")
    assert "baking" in task.format_input(["baking", "recipe writing"])[-1]["content"]
    assert task.parse_output('{"name": "Cooking", "description": "Food preparation."}', [])["name"] == "cooking"
    with pytest.raises(ParseError, match="description"):
        task.parse_output('{"name": "cooking"}', [])


def test_scaling_and_clusters():
    assert scaled_top_k(7_000_000, 7_000_000) == 1000 and scaled_top_k(300, 7_000_000) == 60
    import numpy as np
    v = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=float)
    labels = cluster_tags(v / np.linalg.norm(v, axis=1, keepdims=True), 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]
