"""The 'other' extension on a real store with the LLM roles pointed at the fake chat server: a first induction that
misses two fields leaves their tags in 'other'; the extension adds domains for them and maps them again."""
import json
import re

import pytest

from settings import ROLES
from state import decisions
from state.decisions import Action, Node
from tests.agents.test_taxonomist import CODE, FOOD, KEYWORDS, POEMS, add_pool, map_by_keyword, placed, run
from tests.fakes import ScriptedOpenAI
from tools.domain_extend import ExtendDomainsTask
from tools.llm_parse import ParseError

LAW = [["contract law", "legal writing"], ["contract law", "python programming"], ["tax law", "legal advice"]]
MORE_LAW = [["legal research", "law review"], ["legal ethics", "legal drafting"]]  # 8 law tags in all
WITH_LAW = KEYWORDS + [("law|legal", ["law and government"])]


def responder(body, task):
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if task == "induce_domains":  # misses creative writing and law
        return json.dumps({"domains": [{"name": "software development", "description": "Code."},
                                       {"name": "food and cooking", "description": "Food."}]})
    if task == "extend_domains":
        return json.dumps({"domains": [{"name": "software development", "description": "Code again."},
                                       {"name": "creative writing", "description": "Poems and stories."},
                                       {"name": "law and government", "description": "Laws and legal texts."}]})
    out = map_by_keyword(system, user, WITH_LAW)
    if "law and government" not in system:  # the mapper names the field it misses
        out.update({t: "lawyer" for t in out if re.search("law|legal", t)})
    return json.dumps(out)


@pytest.fixture
def served(config):
    with ScriptedOpenAI(responder=responder) as srv:
        yield config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES}}), srv


def test_tags_left_in_other_get_new_domains_and_are_mapped_again(served, store):
    cfg, srv = served
    add_pool(store, CODE * 2 + FOOD + POEMS + LAW)  # 18 English tags, 8 of them poems and law
    report = run(store, cfg, 1)
    (ext,) = report["extension"]  # one pass: nothing left in 'other' for a second
    assert ext["domains"] == ["creative writing", "law and government"]  # the existing one proposed again is dropped
    assert ext["other_before"]["share_en"] > 0.2 and ext["other_after"]["share_en"] == 0.0 == report["other"]["share"]
    now = placed(store)
    assert now["poetry composition"] == "creative writing" and now["contract law"] == "law and government"
    assert now["debugging"] == "software development"  # tags placed before stay where they were
    (prompt,) = [r for r in srv.requests if r["task"] == "extend_domains"]
    text = "\n".join(m["content"] for m in prompt["body"]["messages"])
    assert "- food and cooking: Food." in text and "- rhyme schemes (1)" in text and "lawyer (4)" in text
    assert "- debugging" not in text  # only the tags in 'other' are shown
    assert decisions.count(store, Node.TAXONOMIST, Action.EXTEND_DOMAINS) == 1
    assert decisions.count(store, Node.TAXONOMIST, Action.ADD_DOMAIN) == 2


def test_no_second_call_while_other_has_not_grown_and_none_when_switched_off(served, store):
    cfg, srv = served
    cfg = cfg.model_copy(update={"taxonomy": cfg.taxonomy.model_copy(update={"max_other_share": 0.0})})
    add_pool(store, CODE * 2 + FOOD + POEMS + LAW)
    report = run(store, cfg, 1)
    assert "extension" not in report and report["other"]["share_en"] > 0.2
    assert not [r for r in srv.requests if r["task"] == "extend_domains"]
    on = cfg.model_copy(update={"taxonomy": cfg.taxonomy.model_copy(update={"max_other_share": 0.2,
                                                                            "max_domains": 3})})
    report = run(store, on, 2)  # room for one domain only: the first proposed new one
    assert [e["domains"] for e in report["extension"]] == [["creative writing"]]
    assert placed(store)["contract law"] == "other" and report["other"]["share_en"] > 0.2


def test_a_later_round_extends_again_only_when_the_share_has_risen(config, store):
    with ScriptedOpenAI(responder=one_at_a_time) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "taxonomy": config.taxonomy.model_copy(update={"extend_passes": 1})})
        add_pool(store, CODE * 2 + FOOD + POEMS + LAW + MORE_LAW)
        assert [e["domains"] for e in run(store, cfg, 1)["extension"]] == [["creative writing"]]
        flat = run(store, cfg, 2)  # the 8 law tags are still in 'other' (36%), above the cut, with room to spare
        assert "extension" not in flat and flat["other"]["share_en"] > 0.3
        add_pool(store, [["criminal law", "legal history"], ["family law", "legal aid"]])  # 'other' rises to 46%
        risen = run(store, cfg, 3)
    assert [e["domains"] for e in risen["extension"]] == [["law and government"]]
    assert [r["task"] for r in srv.requests].count("extend_domains") == 2
    assert placed(store)["family law"] == "law and government" and risen["other"]["share_en"] == 0.0


def test_extend_task_drops_existing_names_and_rejects_a_reply_with_nothing_new():
    task = ExtendDomainsTask("oracle", 2)
    item = ([{"name": "mathematics", "description": "Numbers."}], [("contract law", 3)], ["lawyer (2)"])
    assert "1 to 2 NEW" in task.format_input(item)[0]["content"]
    got = task.parse_output('{"domains": [{"name": "Mathematics", "description": "x"}, '
                            '{"name": "law", "description": "Laws."}]}', item)
    assert got == [{"name": "law", "description": "Laws."}]
    with pytest.raises(ParseError, match="exists already"):
        task.parse_output('{"domains": [{"name": "mathematics", "description": "x"}]}', item)


def one_at_a_time(body, task):
    """An extender that proposes one new domain a call (the first of two the list lacks)."""
    if task != "extend_domains":
        return responder(body, task)
    new = next(n for n in ("creative writing", "law and government") if f"- {n}:" not in body["messages"][0]["content"])
    return json.dumps({"domains": [{"name": new, "description": f"All about {new}."}]})


@pytest.mark.parametrize("passes", [1, 2])
def test_a_round_makes_up_to_extend_passes_passes_while_other_stays_high(config, store, passes):
    with ScriptedOpenAI(responder=one_at_a_time) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "taxonomy": config.taxonomy.model_copy(update={"extend_passes": passes})})
        # 8 law tags: still enough in 'other' for a pass after the poems found their domain
        add_pool(store, CODE * 2 + FOOD + POEMS + LAW + MORE_LAW)
        report = run(store, cfg, 1)
    assert [e["domains"] for e in report["extension"]] == [["creative writing"], ["law and government"]][:passes]
    assert (placed(store)["contract law"] == "law and government") == (passes == 2)
    assert decisions.count(store, Node.TAXONOMIST, Action.EXTEND_DOMAINS) == passes
