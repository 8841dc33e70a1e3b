"""A real packaged LLM (SmolLM2-135M GGUF) behind the embedded llama.cpp server, through the LLM layer."""
import pytest
import sqlalchemy as sa

from settings import load_config
from state.db import Store
from tools.embedded_server import embedded_servers, endpoint, start_server
from tools.llm import LLM
from tools.llm_parse import parse_json_object

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, assets):
    home = tmp_path_factory.mktemp("llm")
    return load_config(home, env={}, overrides=[
        f"assets_dir={assets.root}", "roles.tagger.model=smollm2-135m", "roles.tagger.max_tokens=48",
        "roles.tagger.temperature=0", "server.port_base=18380", "server.n_ctx=2048"])


def test_embedded_server_answers_json_mode_and_caches(cfg):
    with embedded_servers(cfg, ["tagger"]) as models:
        assert models == ["smollm2-135m"]
        assert start_server(cfg, "smollm2-135m", cfg.home / "logs") is None  # reused, not restarted
        llm = LLM(cfg, Store(cfg.db_url), round_=1)
        prompts = [[{"role": "system", "content": "Reply with a JSON object."},
                    {"role": "user", "content": f"Give a JSON object with key \"topic\" for: {q}"}]
                   for q in ("sorting lists in Python", "the French revolution", "baking bread")]
        results = llm.chat_many("tagger", prompts, parse=parse_json_object, json_mode=True)
        ok = sum(r.ok for r in results)
        print(f"\nSmolLM2 JSON-mode parse rate: {ok}/{len(results)}; replies: {[r.text[:60] for r in results]}")
        assert ok == len(results)  # json_object mode constrains the grammar: every reply is JSON
        again = llm.chat_many("tagger", prompts[:1], parse=parse_json_object, json_mode=True)
        assert again[0].cached and again[0].value == results[0].value
    with llm.store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT calls, cache_hits, prompt_tokens, completion_tokens FROM token_usage "
                                   "WHERE role='tagger'")).one()
    assert row[0] >= 4 and row[1] >= 1 and row[2] > 0 and row[3] > 0
    base_url, _ = endpoint(cfg, "tagger")
    import httpx
    with pytest.raises(httpx.HTTPError):  # the server was stopped with the block
        httpx.get(f"{base_url}/models", timeout=1.0)
