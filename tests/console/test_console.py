"""The console on a store made by a real run: `iloop run` child processes started, paused, reviewed and resumed
through graph/control.py (what the Run page's buttons call), with the real SQLite store, Chroma, embedder and
SmolLM2; the LLM roles answer from the graph tests' script over HTTP. Then every page through Streamlit's app
tester on that store, and a steering edit read by the next round."""
import json
import shutil
import time

import pytest
import sqlalchemy as sa
import yaml
from streamlit.testing.v1 import AppTest

from graph import control
from settings import ROLES
from state.db import Store
from tests.fakes import ScriptedOpenAI
from tests.graph.scripted import fake_llm, pool_file

APP = "../../app.py"
SETS = {"scoring": {"model": "smollm2-135m"}, "finetune": {"steps": 8, "batch_size": 4},
        "tagging": {"batch_size": 5}, "max_rounds": 1, "evolution": {"max_per_round": 2},
        "diagnosis": {"sample_size": 3, "answer_max_tokens": 16}, "synthesis": {"max_per_round": 2},
        "selection": {"hard_count": 12}}


def wait_for(home, states, timeout=600.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = control.read_status(home)
        if status.get("state") in states:
            return status
        time.sleep(0.5)
    raise AssertionError(f"run never reached {states}: {status}\n{control.tail(status.get('log'), 60)}")


@pytest.fixture(scope="module")
def ran(tmp_path_factory, assets):
    """A home after: a review-mode run stopped before the evolver (one seed dropped, approved), stopped before
    the synthesizer (approved, then paused after the next node), and resumed to the end."""
    tmp = tmp_path_factory.mktemp("console")
    home = tmp / "home"
    seen = {}
    with ScriptedOpenAI(responder=fake_llm) as srv:
        home.mkdir()
        cfg = {**SETS, "assets_dir": str(assets.root), "ingest": {"pools": [str(pool_file(tmp))]},
               "roles": {r: {"base_url": srv.base_url} for r in ROLES}}
        (home / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        store = Store(f"sqlite:///{home / 'iloop.sqlite'}")
        args = ["--home", str(home)]
        control.start_run(home, store, args, review=True, who="ada")
        seen["first"] = wait_for(home, ("review", "failed", "exited", "finished"))
        with store.engine.connect() as conn:
            waiting = conn.execute(sa.text("SELECT id FROM seeds WHERE status='selected' ORDER BY id")).scalars().all()
        seen["waiting"] = list(waiting)
        control.answer_review(home, store, "evolver", "approve", waiting[:1], who="ada")
        control.start_run(home, store, args, resume=True, review=True, who="ada")
        seen["second"] = wait_for(home, ("review", "failed", "exited", "finished"))
        control.answer_review(home, store, "targeted_synthesizer", "approve", [], who="ada")
        control.start_run(home, store, args, resume=True, review=False, who="ada")
        control.request_pause(home, store, who="ada")
        seen["paused"] = wait_for(home, ("paused", "failed", "exited", "finished"))
        control.start_run(home, store, args, resume=True, who="ada")
        seen["done"] = wait_for(home, ("finished", "failed", "exited"))
        seen["log"] = control.tail(seen["done"].get("log"), 200)
    return home, store, seen


def test_review_pause_and_resume_drive_real_runs(ran):
    home, store, seen = ran
    assert seen["first"]["state"] == "review" and seen["first"]["next"] == ["evolver"], seen
    assert seen["second"]["state"] == "review" and seen["second"]["next"] == ["targeted_synthesizer"], seen
    # the pause was taken after the node that was running: the checkpoint waits before a later node
    assert seen["paused"]["state"] == "paused" and seen["paused"]["next"], seen
    assert seen["done"]["state"] == "finished", seen["log"]
    with store.engine.connect() as conn:
        dropped = conn.execute(sa.text("SELECT id FROM seeds WHERE status='dropped'")).scalars().all()
        console = conn.execute(sa.text("SELECT action, reason FROM decisions WHERE node='console' ORDER BY id")).all()
        evolved_from = set(conn.execute(sa.text("SELECT parent_id FROM candidates WHERE kind='evolved'")).scalars())
        dropped_conv = conn.execute(sa.text("SELECT conversation_id FROM seeds WHERE status='dropped'")).scalar()
        rounds = conn.execute(sa.text("SELECT number, status FROM rounds")).all()
    assert dropped == seen["waiting"][:1] and dropped_conv not in evolved_from
    actions = [a for a, _ in console]
    assert actions.count("start_run") == 4 and actions.count("review") == 4 and "drop_seed" in actions
    assert actions.count("pause_run") == 2  # asked for, then taken
    assert any("by ada" in r for a, r in console if a == "start_run")
    assert rounds == [(1, "done")]  # one round, four processes: resumed, never re-opened


def test_a_second_start_is_refused_while_a_run_is_live(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h' / 'iloop.sqlite'}")
    control.write_status(tmp_path / "h", pid=__import__("os").getpid(), state="running")
    with pytest.raises(RuntimeError, match="already going"):
        control.start_run(tmp_path / "h", store, ["--home", str(tmp_path / "h")])
    control.write_status(tmp_path / "h", pid=2 ** 22 + 12345, state="running")  # no such process
    assert control.read_status(tmp_path / "h")["state"] == "exited"


def app(home, monkeypatch, page=None):
    monkeypatch.setenv("ILOOP_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(f"console/pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def text_of(at) -> str:
    parts = [m.value for m in at.markdown] + [str(df.value.to_dict()) for df in at.dataframe]
    parts += [x.value for x in at.info] + [x.value for x in at.caption] + [str(m.value) for m in at.metric]
    return " ".join(parts)


def test_run_page_shows_the_finished_run_and_its_rounds(ran, monkeypatch):
    home, _, _ = ran
    at = app(home, monkeypatch)
    assert [m.value for m in at.metric][:2] == ["finished", "1"]
    assert any("Finished: max_rounds" in s.value for s in at.success)
    assert '"mean_turns"' in " ".join(c.value for c in at.code)  # the log's tail: the run's closing figures


def test_steering_saves_a_domain_weight_and_a_setting_with_a_preview_and_the_next_round_reads_them(ran, monkeypatch,
                                                                                                    tmp_path):
    home, store, _ = ran
    at = app(home, monkeypatch, "steering")
    kind = [s for s in at.selectbox if s.label == "kind"][0]
    kind.select("domain").run()
    key = [s for s in at.selectbox if s.label == "key"][0]
    assert {"software development", "home and food", "creative writing"} <= set(key.options)
    key.select("creative writing").run()
    [s for s in at.slider if s.label == "weight"][0].set_value(0.0).run()
    [b for b in at.button if b.label == "preview"][0].click().run()
    assert not at.exception, at.exception
    shown = text_of(at)
    assert "with the change" in shown and "Token estimate per round" in shown
    # the steered domain has its row even when nothing of it is picked, with what it could act on; weight 0 excludes
    domains = [d.value for d in at.dataframe if "domain" in d.value.columns][0].set_index("domain")
    assert domains.loc["creative writing", "with the change"] == 0
    assert domains["open candidates"].sum() > 0 and (domains["open candidates"] >= domains["now"]).all()
    [b for b in at.button if b.label == "save"][0].click().run()
    assert any("saved domain:creative writing = 0" in s.value for s in at.success)
    [s for s in at.selectbox if s.label == "kind"][0].select("setting").run()
    [s for s in at.selectbox if s.label == "key"][0].select("evolution.max_per_round").run()
    [n for n in at.number_input if n.label == "value"][0].set_value(7).run()
    [b for b in at.button if b.label == "save"][0].click().run()
    from state import steering
    assert steering.weights(store)["domain"]["creative writing"] == 0.0
    assert steering.setting_values(store) == {"evolution.max_per_round": 7.0}
    with store.engine.connect() as conn:
        steer = conn.execute(sa.text("SELECT evidence FROM decisions WHERE action='steer' ORDER BY id")).scalars().all()
    assert [json.loads(e)["new"] for e in steer] == [0.0, 7.0]
    # the next round's start takes the setting, and every node of that round runs with it
    from agents import begin_round
    from agents.timing import steered_config
    from agents.resources import iloop_config
    from settings import load_config
    copy = tmp_path / "copy"  # the next round opens in a copy: the other pages read the run's one round
    shutil.copytree(home, copy)
    cfg = load_config(copy)
    config = {"configurable": {"thread_id": "next", "iloop_config": cfg.model_dump_json()}}
    state = begin_round.node({"round": 1}, config)
    assert state["steered_settings"] == {"evolution.max_per_round": 7.0}
    assert iloop_config(steered_config(state, config)).evolution.max_per_round == 7
    # a bad value is refused on the page, and nothing is saved
    [n for n in at.number_input if n.label == "value"][0].set_value(7.5).run()
    assert any("whole number" in e.value for e in at.error)


def test_rounds_page_shows_decisions_evolutions_diagnosis_and_metrics(ran, monkeypatch):
    home, _, _ = ran
    at = app(home, monkeypatch, "rounds")
    shown = text_of(at)
    assert "drop_seed" in shown or "dropped in review" in shown
    assert "dataset against the random reference" in shown and "random reference" in shown
    labels = [e.label for e in at.expander]
    assert any(label.startswith("accepted") for label in labels)  # an evolution beside its seed
    assert any(label.startswith("deficient") for label in labels)  # a finding with its syntheses
    [s for s in at.selectbox if s.label == "node"][0].select("console").run()
    assert "review" in text_of(at) and not at.exception


def test_data_page_searches_opens_a_conversation_with_its_lineage_and_draws_the_map(ran, monkeypatch):
    home, _, _ = ran
    at = app(home, monkeypatch, "data")
    [t for t in at.text_input if t.label == "text contains"][0].input("risotto").run()
    assert "conversations match" in text_of(at) and "risotto" in text_of(at)
    [s for s in at.selectbox if s.label == "origin"][0].select("evolved").run()
    [t for t in at.text_input if t.label == "text contains"][0].input("").run()
    shown = text_of(at)
    assert "lineage" in shown and "(this conversation)" in shown and not at.exception


def test_taxonomy_page_and_an_empty_store(ran, monkeypatch, tmp_path):
    home, _, _ = ran
    at = app(home, monkeypatch, "taxonomy")
    shown = text_of(at)
    assert "software development" in shown and "Python编程" in shown and "step-by-step explanation" in shown
    empty = tmp_path / "empty"
    Store(f"sqlite:///{empty / 'iloop.sqlite'}")
    for page in (None, "rounds", "taxonomy", "data", "steering"):
        at = app(empty, monkeypatch, page)
        assert at.info or at.warning, page
    at = app(tmp_path / "missing", monkeypatch)
    assert "No store at" in at.warning[0].value
