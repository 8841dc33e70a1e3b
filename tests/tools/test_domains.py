import json

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
    # an abbreviation in brackets (what the 1.5B proposed in a demo round) is dropped, not the whole reply
    seo = '{"domains": [{"name": "Search Engine Optimization (SEO)", "description": "Ranking pages."}, ' \
          '{"name": "law", "description": "Courts."}]}'
    assert [d["name"] for d in INDUCE.parse_output(seo, [])] == ["search engine optimization", "law"]


@pytest.mark.parametrize("reply,match", [
    ('{"domains": []}', "need 2 to 5"), ('{"domains": "math"}', "expected"),
    ('{"domains": [{"name": "a"}, {"name": "b"}]}', "description"),
    ('{"domains": [' + ",".join(f'{{"name": "domain {k}", "description": "d"}}' for k in range(9)) + "]}",
     "need 2 to 5"),
])
def test_induce_rejects_bad_lists(reply, match):
    with pytest.raises(ParseError, match=match):
        INDUCE.parse_output(reply, [])


def test_map_reads_numbers_and_names_and_leaves_unanswered_tags_unmapped():
    two = [{"name": "software development", "description": "Code."}, *MATH]
    got = MapTagsTask("tagger", two).parse_output('{"1": 2, "2": "1", "3": 0, "9": 1}',
                                                  ["calculus", "python programming", "poetry", "cooking"])
    # "cooking" was not answered: not judged, so not "other" (it used to be, which filled "other" on the demo)
    assert got == {"calculus": "mathematics", "python programming": "software development", "poetry": "other"}
    assert got.left_out == ["cooking"] and got.unknown == []
    got = MapTagsTask("tagger", two).parse_output(
        '{"mapping": {"Python Programming": "software development", "calculus": "Mathematics", "poetry": "arts"}}',
        ["python programming", "calculus", "poetry", "cooking"])
    assert got == {"python programming": "software development", "calculus": "mathematics", "poetry": "other"}
    assert got.unknown == ["poetry"] and got.left_out == ["cooking"] and got.invented == ["arts"]


def test_map_reads_the_name_reply_the_prompt_asks_for_and_skips_an_echoed_template_key():
    two = [{"name": "software development", "description": "Code."}, *MATH]
    reply = ('{"<tag>": "<domain name>", "contract law": "lawyer", "sql query optimization": "software development", '
             '"largest magnitude": "mathematics", "albania": "other"}')
    got = MapTagsTask("judge", two).parse_output(reply, ["contract law", "sql query optimization", "largest magnitude",
                                                         "albania"])
    assert got == {"contract law": "other", "sql query optimization": "software development",
                   "largest magnitude": "mathematics", "albania": "other"}
    assert got.invented == ["lawyer"] and got.unknown == ["contract law"] and got.left_out == []


@pytest.mark.parametrize("reply", [
    '{"1": "2. mathematics", "2": [1], "3": "category 2"}',
    '{"1. python programming": 2, "2. debugging": "1", "3. calculus": 2}',
    '{"python programming": "mathematics (2)", "debugging": "Software Development", "calculus": "math"}',
])
def test_map_accepts_the_shapes_small_models_answer_in(reply):
    two = [{"name": "software development", "description": "Code."}, *MATH]
    got = MapTagsTask("tagger", two).parse_output(reply, ["python programming", "debugging", "calculus"])
    assert got["debugging"] == "software development" and got["calculus"] == "mathematics"
    eight = [f"t{k}" for k in range(8)]
    with pytest.raises(ParseError, match="no tag was given"):  # only zeros: the numbered prompt's degenerate answer
        MapTagsTask("tagger", MATH).parse_output(json.dumps({str(k + 1): 0 for k in range(8)}), eight)
    # names are not: "other" in words for a whole batch (fragments of broken tags, a re-map of 'other') stands,
    # and invented names are kept as evidence of a missing domain
    got = MapTagsTask("tagger", MATH).parse_output(json.dumps({t: "other" for t in eight[:7]} | {"t7": "law"}), eight)
    assert set(got.values()) == {"other"} and got.invented == ["law"]


def test_map_prompt_lists_the_classification_standard_and_asks_for_names():
    msgs = MapTagsTask("tagger", MATH).format_input(["calculus", "poetry"])
    assert "- mathematics: Numbers and proofs." in msgs[0]["content"] and "- other:" in msgs[0]["content"]
    assert '{"<tag>": "<domain name>"' in msgs[0]["content"] and "- calculus\n- poetry" in msgs[1]["content"]
    assert "not in English" not in msgs[0]["content"]
    assert "write every domain name in English" in MapTagsTask("judge", MATH).format_input(["微积分"])[0]["content"]


def test_map_reads_placeholder_brackets_and_other_written_in_chinese():
    two = [{"name": "software development", "description": "Code."}, *MATH]
    got = MapTagsTask("judge", two).parse_output('{"<programming>": "software development", "<合同法>": "其他", '
                                                 '"微积分": "<mathematics>"}', ["programming", "合同法", "微积分"])
    assert got == {"programming": "software development", "合同法": "other", "微积分": "mathematics"}
    assert got.unknown == [] and got.invented == []
    got = MapTagsTask("judge", two).parse_output('{"<div>": "software development", "<b>": "mathematics"}',
                                                 ["<div>", "b"])  # a real tag keeps its brackets
    assert got == {"<div>": "software development", "b": "mathematics"}


def test_induce_asks_for_at_least_min_domains():
    task = InduceDomainsTask("oracle", max_domains=24, min_domains=8)
    text = task.format_input([(f"tag {k}", 1) for k in range(60)])[0]["content"]
    assert "About 8 domains" in text and "never fewer than 8" in text  # sqrt(60 / 2) = 5 would be the target


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


def test_match_domains_pairs_by_overlap_and_names_merges_and_splits():
    from tools.domains import match_domains
    old = {"coding": {1, 2, 3, 4}, "food": {5, 6, 7, 8}, "music": {9, 10}, "law": {11, 12}}
    new = {"software": {1, 2, 3}, "cooking": {5, 6}, "baking": {7, 8}, "arts": {9, 10, 11, 12}, "sports": {13}}
    m = match_domains(old, new)
    assert m.kept["software"] == "coding" and m.kept["baking"] == "food" and "cooking" in m.added  # ties: by name
    assert m.splits == {"food": ["baking", "cooking"]} and m.merges == {"arts": ["law", "music"]}
    assert m.kept["arts"] in ("law", "music") and len(m.retired) == 1 and "sports" in m.added
    # the same name pairs whatever the overlap; nothing in common pairs nothing
    assert match_domains({"maths": {1}}, {"maths": {2}}).kept == {"maths": "maths"}
    m = match_domains({"maths": {1, 2}}, {"history": {3, 4}})
    assert m.kept == {} and m.added == ["history"] and m.retired == ["maths"]
