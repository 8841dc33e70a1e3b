"""The LLM layer against a scripted OpenAI-compatible server (real HTTP through ChatOpenAI)."""
import json

import pytest
import sqlalchemy as sa

from settings import load_config
from state.db import Store
from state.llm_calls import tokens_by_role
from tests.fakes import ScriptedOpenAI
from tools.llm import LLM, LLMEndpointError
from tools.llm_parse import ParseError, parse_json_object, strip_fences
from tools.llm_task import LLMTask


def make_llm(tmp_path, base_url, **role):
    sets = [f"roles.tagger.base_url={base_url}", "roles.tagger.model=fake-model", "roles.tagger.max_retries=2",
            "roles.tagger.timeout_s=5", "roles.tagger.api_key_env=ILOOP_TEST_KEY"]
    sets += [f"roles.tagger.{k}={v}" for k, v in role.items()]
    cfg = load_config(tmp_path / "h", env={}, overrides=sets)
    return LLM(cfg, Store(cfg.db_url), round_=3)


def tags(text: str) -> list[str]:
    obj = parse_json_object(text)
    if not isinstance(obj.get("en"), list) or not obj["en"]:
        raise ParseError('expected {"en": [non-empty list]}')
    return obj["en"]


def usage(llm):
    with llm.store.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT calls, cache_hits, prompt_tokens, completion_tokens, rejections, "
                                         "repairs FROM token_usage WHERE role='tagger' AND round=3")).mappings().one())


@pytest.mark.parametrize("text,expected", [
    ('{"en": ["a"]}', {"en": ["a"]}), ('```json\n{"en": ["a"]}\n```', {"en": ["a"]}),
    ('Sure! Here it is: {"en": ["a"]} Hope it helps.', {"en": ["a"]}),
])
def test_parse_json_object_accepts_fenced_and_wrapped(text, expected):
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text", ["no json here", '{"en": [unquoted]}', "[1, 2]", '{"en": ["a"'])
def test_parse_json_object_rejects_garbage(text):
    with pytest.raises(ParseError):
        parse_json_object(text)


def test_strip_fences_leaves_plain_text():
    assert strip_fences("  hi  ") == "hi"


def test_cache_tokens_and_params_sent(tmp_path, monkeypatch):
    monkeypatch.setenv("ILOOP_TEST_KEY", "sk-test-secret")
    with ScriptedOpenAI(['{"en": ["sorting"]}']) as srv:
        llm = make_llm(tmp_path, srv.base_url, max_tokens=64)
        msgs = [[{"role": "user", "content": "tag this"}]]
        first = llm.chat_many("tagger", msgs, parse=tags, json_mode=True)
        second = llm.chat_many("tagger", msgs, parse=tags, json_mode=True)
        assert first[0].value == ["sorting"] and not first[0].cached
        assert second[0].value == ["sorting"] and second[0].cached
        assert len(srv.requests) == 1
        body = srv.requests[0]["body"]
        assert body["max_tokens"] == 64 and body["response_format"] == {"type": "json_object"}
        assert body["seed"] == 0  # the run's seed: sampled replies are reproducible where the server honours it
        assert srv.requests[0]["auth"] == "Bearer sk-test-secret"
    u = usage(llm)
    assert (u["calls"], u["cache_hits"], u["prompt_tokens"], u["completion_tokens"]) == (2, 1, 11, 7)
    with llm.store.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.execute(sa.text("SELECT * FROM llm_calls")).all())
    assert "sk-test-secret" not in dump


def test_retries_5xx_then_succeeds(tmp_path):
    with ScriptedOpenAI([500, 503, "fine"]) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        (res,) = llm.chat_many("tagger", [[{"role": "user", "content": "x"}]])
        assert res.ok and res.value == "fine" and len(srv.requests) == 3


def test_endpoint_error_names_the_endpoint_after_retries(tmp_path):
    with ScriptedOpenAI([500, 500, 500, 500]) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        with pytest.raises(LLMEndpointError, match=f"role tagger: endpoint {srv.base_url}.*failed 3 times"):
            llm.chat_many("tagger", [[{"role": "user", "content": "x"}]])


def test_connection_refused_is_a_clear_error(tmp_path):
    llm = make_llm(tmp_path, "http://127.0.0.1:9/v1", max_retries=1)
    with pytest.raises(LLMEndpointError, match="127.0.0.1:9"):
        llm.chat_many("tagger", [[{"role": "user", "content": "x"}]])


def test_one_repair_attempt_then_rejection_counted(tmp_path):
    with ScriptedOpenAI(["garbage", '{"en": ["fixed"]}', "garbage again", "still garbage"]) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        a, b = llm.chat_many("tagger", [[{"role": "user", "content": "one"}]], parse=tags), \
            llm.chat_many("tagger", [[{"role": "user", "content": "two"}]], parse=tags)
        assert a[0].ok and a[0].repaired and a[0].value == ["fixed"]
        assert not b[0].ok and "not JSON" in b[0].error and b[0].value is None
        repair_prompt = srv.requests[1]["body"]["messages"][-1]["content"]
        assert "could not be used" in repair_prompt
    u = usage(llm)
    assert (u["repairs"], u["rejections"]) == (1, 1)


def test_batch_keeps_order_under_concurrency(tmp_path):
    with ScriptedOpenAI(default="same") as srv:
        llm = make_llm(tmp_path, srv.base_url, concurrency=4)
        batch = [[{"role": "user", "content": f"q{k}"}] for k in range(12)]
        res = llm.chat_many("tagger", batch, parse=lambda t: t)
        assert len(res) == 12 and all(r.ok for r in res)
        sent = [json.dumps(r["body"]["messages"]) for r in srv.requests]
        assert len(set(sent)) == 12


def test_reply_cut_at_the_token_limit_gets_one_briefer_retry(tmp_path):
    with ScriptedOpenAI([('{"en": ["a", "b", "c"', "length"), '{"en": ["short"]}']) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        (res,) = llm.chat_many("tagger", [[{"role": "user", "content": "tag"}]], parse=tags, json_mode=True,
                               max_tokens=20)
        assert res.ok and res.value == ["short"] and res.repaired
        assert srv.requests[0]["body"]["max_tokens"] == 20
        assert "token limit" in srv.requests[1]["body"]["messages"][-1]["content"]
    # the cut reply's tokens were spent: the budget counts both calls (the fake server reports 11 + 7 a call)
    u = tokens_by_role(llm.store)["tagger"]
    assert (u["calls"], u["prompt_tokens"], u["completion_tokens"]) == (2, 22, 14)


def test_plain_text_reply_cut_is_counted_too(tmp_path):
    with ScriptedOpenAI([("an answer that goes on and", "length")]) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        (res,) = llm.chat_many("tagger", [[{"role": "user", "content": "answer"}]], max_tokens=5)
        assert not res.ok and "token limit" in res.error and len(srv.requests) == 1
    u = tokens_by_role(llm.store)["tagger"]
    assert (u["calls"], u["prompt_tokens"], u["completion_tokens"]) == (1, 11, 7)


class EchoTags(LLMTask[str, list[str]]):
    """A minimal task: the item is the text to tag; the reply must carry tags that occur in it."""

    name = "echo_tags"

    def format_input(self, item: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"tag: {item}"}]

    def parse_output(self, text: str, item: str) -> list[str]:
        found = tags(text)
        if not all(t in item for t in found):
            raise ParseError("tags must come from the text")
        return found


def test_run_formats_each_item_parses_against_it_and_sends_the_task_name(tmp_path):
    def reply(body, task):
        # by content, not by arrival: the two items are sent concurrently and may reach the server in either order
        if "sort a list" in body["messages"][0]["content"]:
            return '{"en": ["sort"]}'
        return '{"en": ["heap"]}' if len(body["messages"]) > 1 else '{"en": ["moon"]}'  # the repair round gets it

    with ScriptedOpenAI(responder=reply) as srv:
        llm = make_llm(tmp_path, srv.base_url)
        ok, repaired = llm.run(EchoTags("tagger", max_tokens=32), ["sort a list", "build a heap"])
    assert ok.value == ["sort"] and repaired.value == ["heap"] and repaired.repaired  # "moon" failed its item
    assert [r["task"] for r in srv.requests] == ["echo_tags"] * 3
    first = next(r["body"] for r in srv.requests if "sort a list" in r["body"]["messages"][0]["content"])
    assert first["messages"] == [{"role": "user", "content": "tag: sort a list"}]
    assert first["max_tokens"] == 32 and first["response_format"] == {"type": "json_object"}


def test_a_new_llm_object_works_after_an_earlier_one_closed_and_the_server_dropped_its_connection(tmp_path):
    # The demo died this way between the tagger and the taxonomist: ChatOpenAI's default async HTTP client is cached
    # per base URL across event loops, so the second node's loop found the first loop's pooled connection, which
    # the server (uvicorn, as llama.cpp's) had closed meanwhile, and closing it needed the closed loop.
    import time

    with ScriptedOpenAI(default="fine", keep_alive_s=0.3) as srv:
        first = make_llm(tmp_path, srv.base_url)
        assert first.chat_many("tagger", [[{"role": "user", "content": "one"}]])[0].ok
        first.close()
        time.sleep(0.8)  # longer than the server keeps an idle connection
        second = make_llm(tmp_path, srv.base_url)
        (res,) = second.chat_many("tagger", [[{"role": "user", "content": "two"}]])
        second.close()
    assert res.ok and res.value == "fine" and len(srv.requests) == 2
