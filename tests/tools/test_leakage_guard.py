"""The leakage guard on a real store, real Chroma and the real default embedder (USE; MiniLM where said), against the
packaged benchmark prompts."""
import json

import sqlalchemy as sa

from agents.resources import Resources
from settings import ROLES
from tests.conftest import chat, write_jsonl
from tests.fakes import ScriptedOpenAI
from tools.formats import content_hash
from tools.importer import Importer
from tools.instructions import embed_conversations
from tools.leakage_rounds import check_candidates, check_pool

PLANTED = {
    "Write a C++ program to find the nth Fibonacci number using recursion.": "mt-bench",  # exact, turn 1
    "Write a story for kids about how a person learns to ride a bike. Do not include 'can' and 'ride' in your "
    "response.": "ifeval",  # exact
    # a light edit (USE cosine 0.98); a looser paraphrase ("Tell me about Walt Disney's life and history.", 0.88)
    # is in USE's band and needs the LLM check (docs/leakage.md)
    "Please tell me about the history of Walt Disney.": "alpaca-eval",
    "Hi! Quick one for my quiz night: What is the capital of Australia? Thanks a lot.": "alpaca-eval",  # wrapped
}
CLEAN = ["Write a SQL query that returns the ten customers with the highest total order value.",
         "Give me three tips for keeping basil alive indoors.",
         "What were the main battles the Yamato battleship fought in?",  # same subject as an AlpacaEval prompt
         "Write a Python program that prints the first 20 Fibonacci numbers.",
         "How do I make cider vinegar from apples at home?"]
# MT-Bench 108's second turn, asked as the second user turn of an otherwise harmless conversation
SECOND_TURN = {"messages": [{"role": "user", "content": "Which of these is not a fruit: apple, carrot, pear?"},
                            {"role": "assistant", "content": "Carrot."},
                            {"role": "user", "content": "Could you replace it with a word that belongs with the others?"},
                            {"role": "assistant", "content": "Plum."}]}


def ingest(res, tmp_path, records):
    Importer(res.store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "pool.jsonl", records), "pool")
    embed_conversations(res.store, res.vectors, res.embedder, res.conversations)


def run_guard(res, round_, extra_files=None):
    """Both places of the guard, as `iloop leakage` runs them: the pool, then the staged candidates."""
    guard = res.leakage_guard()
    pool = check_pool(guard, res.config, round_, extra_files)
    return {**pool, "candidates": check_candidates(guard, res.config, round_, extra_files)["candidates"]}


def texts(res):
    with res.store.engine.connect() as conn:
        return {json.loads(m)[0]["content"] for m in conn.execute(sa.text("SELECT messages FROM conversations")).scalars()}


def test_planted_copies_and_paraphrases_are_removed_and_unrelated_items_stay(res, tmp_path):
    ingest(res, tmp_path, [chat(t) for t in [*PLANTED, *CLEAN]] + [SECOND_TURN])
    with res.store.engine.begin() as conn:  # a seed row on a planted item must go with it
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[]', '{}', 'selected', 0, '2026-01-01' FROM "
                             "conversations"))
    summary = run_guard(res, 1)
    assert summary["pool"]["checked"] == 10 and summary["pool"]["removed"] == 5
    assert texts(res) == set(CLEAN)
    with res.store.engine.connect() as conn:
        leaks = conn.execute(sa.text("SELECT benchmark, turn, method, similarity, messages FROM leaks")).all()
        decisions = conn.execute(sa.text("SELECT count(*) FROM decisions WHERE action='remove_leak'")).scalar()
        seeds = conn.execute(sa.text("SELECT count(*) FROM seeds")).scalar()
    by_text = {json.loads(m)[0]["content"]: (b, t, meth, s) for b, t, meth, s, m in leaks}
    for text, bench in PLANTED.items():
        assert by_text[text][0] == bench
    assert by_text[SECOND_TURN["messages"][0]["content"]][:2] == ("mt-bench", 1)
    assert by_text[list(PLANTED)[3]][2] == "ngram"  # the wrapped copy falls below the cosine cut
    assert decisions == 5 and seeds == 5 and res.vectors.count(res.conversations) == 5
    report = (res.config.home / "reports" / "leakage-round0001.jsonl").read_text().splitlines()
    assert len(report) == 5 and all({"similarity", "ngram", "bench_text", "item"} <= set(json.loads(r)) for r in report)
    # checked once: a second pass over the same benchmark set looks at nothing
    assert run_guard(res, 2)["pool"]["checked"] == 0


def test_a_user_benchmark_file_rechecks_the_pool_and_candidates_are_refused_or_admitted(res, tmp_path):
    ingest(res, tmp_path, [chat(t) for t in CLEAN])
    assert run_guard(res, 1)["pool"]["removed"] == 0
    mine = write_jsonl(tmp_path / "house-eval.jsonl", [{"id": "q7", "question": "Give me three tips for keeping basil "
                                                                                "alive indoors."}])
    summary = run_guard(res, 2, extra_files=[str(mine)])
    assert summary["pool"]["checked"] == 5 and summary["pool"]["removed"] == 1  # new set fingerprint: all re-checked
    # the same round's check again finds nothing new; the round's totals stay what it did
    again = run_guard(res, 2, extra_files=[str(mine)])["pool"]
    assert again["this_call"]["checked"] == 0 and (again["checked"], again["removed"]) == (5, 1)
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT benchmark || ' ' || bench_ref FROM leaks")).scalar() == "house-eval q7"
    leak_msgs = [{"role": "user", "content": "How do I make apple juice?"}, {"role": "assistant", "content": "Press."}]
    ok_msgs = [{"role": "user", "content": "Explain how a bloom filter trades memory for false positives."},
               {"role": "assistant", "content": "It hashes..."}]
    with res.store.engine.begin() as conn:
        for msgs in (leak_msgs, ok_msgs):
            conn.execute(sa.text("INSERT INTO candidates (round, kind, parent_id, operation, messages, content_hash, "
                                 "lang, status, evidence, created_at) VALUES (3, 'evolved', 1, 'deepening', :m, :h, "
                                 "'en', 'pending', '{}', '2026-01-01')"),
                         {"m": json.dumps(msgs), "h": content_hash(msgs)})
    out = run_guard(res, 3)["candidates"]
    assert out == {"candidates": 2, "leaks": 1, "duplicates": 0, "admitted": 1}
    with res.store.engine.connect() as conn:
        status = dict(conn.execute(sa.text("SELECT status, messages FROM candidates")).all())
        origins = dict(conn.execute(sa.text("SELECT origin, count(*) FROM conversations GROUP BY 1")).all())
    assert "apple juice" in status["leak"] and "bloom filter" in status["admitted"]
    assert origins == {"pool": 4, "evolved": 1}


def test_the_llm_check_decides_band_pairs_when_enabled(config, tmp_path):
    # "Who sang lead vocals first in the band Starship?" is AlpacaEval 71 reworded: cosine in the band (USE 0.88), no
    # n-grams; the Yamato question (USE 0.70 to AlpacaEval 50) is in the band too
    with ScriptedOpenAI(responder=lambda body, task: json.dumps({"same_task": "Starship" in body["messages"][-1]["content"]})
                        ) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "leakage": config.leakage.model_copy(update={"llm_check": True, "remove_threshold": 0.95,
                                                         "band_low": 0.6, "models": ["use-multilingual-v3"]})})
        res = Resources(cfg)
        ingest(res, tmp_path, [chat("Who sang lead vocals first in the band Starship?"), chat(CLEAN[2])])
        summary = run_guard(res, 1)
    assert summary["pool"]["removed"] == 1 and texts(res) == {CLEAN[2]}
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT method, llm_verdict FROM leaks")).one() == ("llm", "same")
    assert len(srv.requests) == 2  # one band pair each; the Yamato one was judged different
    assert {r["task"] for r in srv.requests} == {"leakage_check"}


TRANSLATIONS = {"我该如何培养自己的批判性思维能力？": "How can I develop my critical thinking skills?",  # AlpacaEval 731
                "在印度，网络赌场合法吗？": "Is online casino legal in India?"}  # AlpacaEval 178
ZH_CLEAN = "用Python写一个程序，打印前20个斐波那契数。"  # same subject as MT-Bench 122, another task
# AlpacaEval 71 reworded (bench/leakage_calibration.jsonl): MiniLM 0.933 (at its cut, 0.90), USE 0.877 (in its band
# only); AlpacaEval 731 in Chinese: USE 0.844 (in its band), MiniLM 0.338 (below its band, nearest is another prompt)
EN_PARAPHRASE = "Who sang lead vocals first in the band Starship?"
ZH_TRANSLATION = next(iter(TRANSLATIONS))


# What the scripted judge answers when asked to translate a Chinese turn (worded unlike the benchmark prompts)
BACK = {"我该如何培养自己的批判性思维能力？": "How should I train my own ability to think critically?",
        "在印度，网络赌场合法吗？": "In India, are internet casinos lawful?",
        ZH_CLEAN: "Write a program in Python that prints the first 20 Fibonacci numbers."}


def _judge_by_source(body, task):
    # The scripted judge translates from BACK, and says "same" exactly for a translation (or its rendering in
    # English) shown with its own source prompt.
    content = body["messages"][-1]["content"]
    if task == "leakage_translate":
        return json.dumps({"translation": next(en for zh, en in BACK.items() if zh in content)})
    return json.dumps({"same_task": any((zh in content or BACK[zh] in content) and en in content
                                        for zh, en in TRANSLATIONS.items())})


def _guard_with(config, tmp_path, name, srv, records, **leakage):
    roles = {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES}
    res = Resources(config.model_copy(update={"roles": roles, "home": tmp_path / name / "home", "leakage":
                                              config.leakage.model_copy(update={"llm_check": True, **leakage})}))
    (tmp_path / name).mkdir()
    ingest(res, tmp_path / name, records)
    return res, run_guard(res, 1)


def test_the_default_guard_uses_minilm_for_paraphrases_and_use_for_translations(config, tmp_path):
    records = [chat(t) for t in [EN_PARAPHRASE, ZH_TRANSLATION, ZH_CLEAN, CLEAN[0], CLEAN[2]]]
    with ScriptedOpenAI(responder=_judge_by_source) as srv:
        res, summary = _guard_with(config, tmp_path, "both", srv, records)
        assert res.config.leakage.models == ["minilm-l6-v2", "use-multilingual-v3"]  # the default
        assert summary["pool"]["removed"] == 2 and texts(res) == {ZH_CLEAN, CLEAN[0], CLEAN[2]}
        with res.store.engine.connect() as conn:
            found = {b: (s, m) for b, s, m in conn.execute(sa.text("SELECT bench_text, similarity, method FROM leaks"))}
            reasons = conn.execute(sa.text("SELECT reason FROM decisions WHERE action='remove_leak'")).scalars().all()
        mini, use = (res.config.leakage_settings(m) for m in res.config.leakage.models)
        # the paraphrase: removed by MiniLM's cosine, without asking the judge
        sim, method = next(v for k, v in found.items() if "Starship" in k)
        assert method == "semantic" and sim >= mini.remove_threshold
        assert not any(EN_PARAPHRASE in r["body"]["messages"][-1]["content"] for r in srv.requests)
        # the translation: in USE's band only, removed on the judge's word
        sim, method = found[TRANSLATIONS[ZH_TRANSLATION]]
        assert method == "llm" and use.band_low <= sim < use.remove_threshold
        report = [json.loads(r) for r in (res.config.home / "reports" / "leakage-round0001.jsonl").read_text()
                  .splitlines()]
        by_model = {r["model"]: r for r in report}
        assert set(by_model) == {"minilm-l6-v2", "use-multilingual-v3"}
        assert by_model["minilm-l6-v2"]["item"] == EN_PARAPHRASE and by_model["minilm-l6-v2"]["method"] == "semantic"
        assert by_model["use-multilingual-v3"]["item"] == ZH_TRANSLATION
        # judged on its translation: the judge translated each Chinese band turn first, and the report says so
        assert by_model["use-multilingual-v3"]["judged_translation"] == BACK[ZH_TRANSLATION]
        judged = summary["pool"]["this_call"]["judged"]  # what this call did, beside the round's totals
        assert judged["cross_lingual"] >= 1 and judged["translate_failed"] == judged["judge_failed"] == 0
        assert sum(r["task"] == "leakage_translate" for r in srv.requests) == judged["cross_lingual"]
        assert not any(ZH_TRANSLATION in r["body"]["messages"][-1]["content"] for r in srv.requests
                       if r["task"] == "leakage_check")
        assert by_model["use-multilingual-v3"]["best"]["minilm-l6-v2"] < mini.band_low  # MiniLM alone misses it
        assert sorted(r.split(" ")[1] for r in reasons) == ["(minilm-l6-v2):", "(use-multilingual-v3):"]
        # USE screens for MiniLM (leakage.screen): turns below USE's band are not embedded by MiniLM at all
        assert res.config.leakage.screen == "use-multilingual-v3"
        assert 1 <= summary["pool"]["this_call"]["screened_turns"]["minilm-l6-v2"] <= 3
        # each embedder alone misses one of them: USE leaves the paraphrase to the judge (who says "different"
        # here), MiniLM never brings the translation near its source
        asked = len(srv.requests)
        res_use, alone = _guard_with(config, tmp_path, "use", srv, records, models=["use-multilingual-v3"])
        assert alone["pool"]["removed"] == 1 and EN_PARAPHRASE in texts(res_use)
        assert any(EN_PARAPHRASE in r["body"]["messages"][-1]["content"] for r in srv.requests[asked:])
        asked = len(srv.requests)
        res_mini, alone = _guard_with(config, tmp_path, "mini", srv, records, models=["minilm-l6-v2"])
        assert alone["pool"]["removed"] == 1 and ZH_TRANSLATION in texts(res_mini)
        assert not any(ZH_TRANSLATION in r["body"]["messages"][-1]["content"] for r in srv.requests[asked:])


def test_chinese_translations_of_benchmark_prompts_are_caught_with_the_default_guard(config, tmp_path):
    records = [chat(t) for t in [*TRANSLATIONS, ZH_CLEAN, CLEAN[0]]]
    with ScriptedOpenAI(responder=_judge_by_source) as srv:
        res, summary = _guard_with(config, tmp_path, "both", srv, records)
        assert res.embedder.name == "use-multilingual-v3"
        assert summary["pool"]["removed"] == 2 and texts(res) == {ZH_CLEAN, CLEAN[0]}
        with res.store.engine.connect() as conn:
            found = conn.execute(sa.text("SELECT bench_text, similarity, method FROM leaks")).all()
        band_low = res.config.leakage_settings("use-multilingual-v3").band_low
        assert {b for b, _, _ in found} == set(TRANSLATIONS.values())
        assert all(sim >= band_low and method in ("semantic", "llm") for _, sim, method in found)
        asked = len(srv.requests)
        # MiniLM alone (English only) does not bring the translations near their sources: nothing removed or asked.
        res_mini, alone = _guard_with(config, tmp_path, "mini", srv, records, models=["minilm-l6-v2"])
        assert alone["pool"]["removed"] == 0 and len(srv.requests) == asked
