"""Domains that grow with the pool, on a real store with the LLM roles pointed at the fake chat server.

The fake induces a list that depends on the tags it is shown and maps tags by keyword onto whatever list the
prompt gives, by name, so the test sees what a re-induction keeps, adds, splits and retires, and which tags move.
"""
import json
import re

import pytest
import sqlalchemy as sa

from settings import ROLES
from state import decisions, domains as domain_repo, metrics
from state.decisions import Action, Node
from tests.fakes import ScriptedOpenAI
from tests.tools.test_normalize import add_conversations
from tools.domain_growth import reinduction_due, update_domains
from tools.llm import LLM

# keyword -> the domain names it belongs to, in order of preference
KEYWORDS = [("python|debug|sql|code", ["software development"]),
            ("soup|stew|sauce", ["cooking", "food and cooking"]),
            ("bread|cake|pastry", ["baking", "food and cooking"]),
            ("poem|poetry|rhyme|story", ["creative writing"])]


def fake(body, task):
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if task == "induce_domains":
        shown = " ".join(re.findall(r"^- (.+) \(\d+\)$", user, re.M))
        names = ["software development"]
        poems = re.search("poe|rhyme", shown) is not None
        names += ["cooking", "baking"] if poems else ["food and cooking"]  # the grown pool splits food
        names += ["creative writing"] if poems else []
        return json.dumps({"domains": [{"name": n, "description": f"All about {n}."} for n in names]})
    if task == "map_tags":
        return json.dumps(map_by_keyword(system, user))
    raise AssertionError(task)


def map_by_keyword(system, user, keywords=None):
    """{tag: domain name} onto the domains the prompt lists ("other" when none of a tag's names is listed)."""
    listed = set(re.findall(r"^- ([^:]+): ", system, re.M))
    out = {}
    for tag in re.findall(r"^- (.+)$", user, re.M):
        pick = "other"
        for pattern, names in keywords or KEYWORDS:
            if re.search(pattern, tag):
                pick = next((n for n in names if n in listed), "other")
                break
        out[tag] = pick
    return out


@pytest.fixture
def grown(config, store):
    with ScriptedOpenAI(responder=fake) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES}})
        yield cfg, srv


def add_pool(store, tag_lists):
    """Conversations with canonical English tags (normalisation is tested elsewhere)."""
    add_conversations(store, tag_lists)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tags SET status = 'canonical', frequency = (SELECT count(*) FROM "
                             "conversation_tags ct WHERE ct.tag_id = tags.id)"))


def placed(store):
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT t.name, d.name FROM tags t LEFT JOIN domains d "
                                         "ON d.id = t.domain_id")).all())


CODE = [["python programming", "debugging"], ["sql query optimization", "code review"]]
FOOD = [["soup recipes", "bread baking"], ["sauce making", "cake decorating"], ["stew cooking", "pastry dough"]]
POEMS = [["poetry composition", "rhyme schemes"], ["story writing", "poem analysis"]]


def run(store, cfg, round_):
    llm = LLM(cfg, store, round_)
    try:
        return update_domains(store, None, llm, cfg.taxonomy, round_)
    finally:
        llm.close()


def test_domains_are_reinduced_when_the_pool_doubles_with_stable_ids(grown, store):
    cfg, srv = grown
    add_pool(store, CODE * 2 + FOOD)  # 7 conversations, 10 canonical tags, no poems yet
    first = run(store, cfg, 1)
    assert first["domains"]["induced"] == 2 and "mapping" in first
    ids1 = domain_repo.domain_ids(store)
    assert placed(store)["debugging"] == "software development" and placed(store)["bread baking"] == "food and cooking"
    assert reinduction_due(store, cfg.taxonomy) == ""
    add_pool(store, POEMS * 2 + [["python programming", "poetry composition"]] * 3)  # 14 tagged: factor 2
    assert "grew from 7 to 14" in reinduction_due(store, cfg.taxonomy)
    before = placed(store)
    assert before["poetry composition"] is None  # new, unmapped
    srv.requests.clear()
    second = run(store, cfg, 2)
    d = second["domains"]
    assert d["reinduced"] == 4 and d["kept"] == 2 and d["added"] == 2 and d["splits"] == 1
    ids2 = domain_repo.domain_ids(store)
    # software development keeps its id; food keeps its id under one of its halves; the other half is new
    assert ids2["software development"] == ids1["software development"]
    assert ids2["food and cooking"] == ids1["food and cooking"] and ids2["other"] == ids1["other"]
    assert len(set(ids2) & {"cooking", "baking"}) == 1 and "creative writing" in ids2
    after = placed(store)
    assert after["poetry composition"] == "creative writing" and after["debugging"] == "software development"
    assert {after["bread baking"], after["soup recipes"]} <= {"food and cooking", "baking", "cooking"}
    assert after["bread baking"] != after["soup recipes"]  # the split moved one half of food's tags
    # the tags of the unchanged domain were never sent to the mapper after the comparison sample
    mapped_later = [r for r in srv.requests[2:] if r["task"] == "map_tags"]
    assert all("debugging" not in r["body"]["messages"][-1]["content"] for r in mapped_later)
    assert decisions.count(store, Node.TAXONOMIST, Action.SPLIT_DOMAIN) == 1
    assert decisions.count(store, Node.TAXONOMIST, Action.ADD_DOMAIN) == 2
    assert domain_repo.inductions(store) == 2 and reinduction_due(store, cfg.taxonomy) == ""
    share = metrics.latest_of(store, ("domain_other_share", "domains_active"), "domain_other_share")
    assert share["round"] == 2 and share["domain_other_share"] == 0.0 and share["domains_active"] == 4


def test_a_domain_no_new_one_matches_is_retired_and_its_tags_remapped(grown, store):
    cfg, srv = grown
    add_pool(store, CODE + FOOD + [["poetry composition", "rhyme schemes"]])
    run(store, cfg, 1)  # poems present: code, cooking, baking, creative writing
    assert set(domain_repo.domain_ids(store)) == {"software development", "cooking", "baking", "creative writing",
                                                  "other"}
    cfg2 = cfg.model_copy(update={"taxonomy": cfg.taxonomy.model_copy(update={"domain_top_k": 4})})
    with store.engine.begin() as conn:  # K now shows only code and food: poems fall out of the new list
        conn.execute(sa.text("UPDATE domain_inductions SET top_k = 3"))
        conn.execute(sa.text("UPDATE tags SET frequency = 0 WHERE name LIKE '%poe%' OR name LIKE '%rhyme%'"))
    assert reinduction_due(store, cfg2.taxonomy) == "K grew from 3 to 4"
    out = run(store, cfg2, 2)["domains"]
    assert out["retired"] >= 1
    assert "creative writing" not in domain_repo.domain_ids(store)
    retired = [n for _, n, _ in domain_repo.all_domains(store, include_retired=True)
               if n not in domain_repo.domain_ids(store)]
    assert "creative writing" in retired
    assert placed(store)["poetry composition"] == "other"  # re-mapped: nothing fits it any more
    assert decisions.count(store, Node.TAXONOMIST, Action.RETIRE_DOMAIN) == out["retired"]
    # food's two halves fell back into one domain: a merge, one of the halves keeps its id, the other retires
    assert out["merges"] == 1 and decisions.count(store, Node.TAXONOMIST, Action.MERGE_DOMAINS) == 1
    assert len(set(domain_repo.domain_ids(store)) & {"cooking", "baking"}) == 1


def test_tags_a_reply_leaves_out_are_asked_again_and_never_put_in_other(config, store):
    def forgetful(body, task):  # answers only the first half of every batch it is sent
        tags = re.findall(r"^- (.+)$", body["messages"][-1]["content"], re.M)
        if task == "induce_domains":
            return json.dumps({"domains": [{"name": "software development", "description": "Code."},
                                           {"name": "food and cooking", "description": "Food."}]})
        return json.dumps({t: ("software development" if re.search("python|debug|sql|code", t) else
                               "food and cooking") for t in tags[: max(1, len(tags) // 2)]})

    with ScriptedOpenAI(responder=forgetful) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "taxonomy": config.taxonomy.model_copy(update={"map_batch": 8})})
        add_pool(store, CODE * 2 + FOOD)  # 10 tags in batches of 8 + 2: 5 answered; of the 5 left (4 + 1), 2 then 1
        report = run(store, cfg, 1)
    now = placed(store)
    assert report["mapping"]["left_out"] == 2 and report["mapping"]["other"] == 0
    assert sum(v is None for v in now.values()) == 2 and "other" not in now.values()
    assert report["other"]["unmapped"] == 2 and report["other"]["share"] == 0.0
