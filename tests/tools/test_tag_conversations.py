"""Tagging stored conversations against a scripted server: storage of tags, alignment pairs and rejections."""
import json

import sqlalchemy as sa

from agents.resources import Resources
from tests.conftest import chat, write_jsonl
from tests.fakes import ScriptedOpenAI
from tools.importer import Importer
from tools.llm import LLM
from tools.tag_conversations import tag_conversations


def test_parallel_lists_align_by_position_and_unequal_lists_do_not(config, tmp_path):
    def reply(body, task):
        assert task == "tag"
        dialogue = body["messages"][1]["content"] if len(body["messages"]) > 1 else ""
        if "python" in dialogue:
            return json.dumps({"en": ["python programming", "debugging"], "zh": ["Python编程", "调试"]},
                              ensure_ascii=False)
        if "soup" in dialogue:
            return json.dumps({"en": ["cooking", "gordon ramsay", "recipe writing", "nutrition"],
                               "zh": ["烹饪", "食谱写作"]},
                              ensure_ascii=False)
        return "not json at all"

    with ScriptedOpenAI(responder=reply) as srv:
        cfg = config.model_copy(update={"roles": {**config.roles, "tagger": config.role("tagger").model_copy(
            update={"base_url": srv.base_url})}})
        res = Resources(cfg)
        Importer(res.store, tmp_path / "r").ingest_file(
            write_jsonl(tmp_path / "p.jsonl", [chat("fix my python bug"), chat("a soup recipe the way Gordon Ramsay makes it"), chat("hm")]))
        counts = tag_conversations(res.store, LLM(cfg, res.store, 1), cfg.tagging, [1, 2, 3], 1)
    # the chef the dialogue names was dropped from the soup reply (not the whole reply) and counted
    assert counts == {"tagged": 2, "rejected": 1, "tags_en": 5, "tags_zh": 4, "dropped_named_entity": 1}
    with res.store.engine.connect() as conn:
        pairs = conn.execute(sa.text("SELECT e.name, z.name, a.count FROM tag_alignments a JOIN tags e ON e.id = "
                                     "a.en_tag_id JOIN tags z ON z.id = a.zh_tag_id ORDER BY e.name")).all()
        links = conn.execute(sa.text("SELECT count(*) FROM conversation_tags")).scalar()
        reject = conn.execute(sa.text("SELECT subject, reason FROM decisions WHERE action='reject_reply'")).one()
    assert [tuple(p) for p in pairs] == [("debugging", "调试", 1), ("python programming", "Python编程", 1)]
    assert links == 9
    assert reject[0] == "conversation:3" and "not JSON" in reject[1]
