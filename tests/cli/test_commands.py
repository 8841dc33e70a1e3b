"""The `iloop` commands, run in-process with typer's runner against a real home (tests/cli/conftest.py, helpers.py)."""
import json
import re

from cli.main import app
from settings import ConfigError, describe_fields, load_config
from tests.cli.helpers import flat, iloop, runner
from tests.conftest import chat, write_jsonl


def test_every_command_has_help():
    for cmd in (["--help"], ["init", "--help"], ["assets", "fetch", "--help"], ["ingest", "--help"],
                ["stats", "--help"], ["export", "--help"], ["serve", "--help"], ["run", "--help"],
                ["score", "--help"], ["finetune", "--help"], ["select", "--help"], ["evolve", "--help"],
                ["leakage", "--help"], ["diagnose", "--help"], ["synthesize", "--help"], ["ledger", "--help"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 0 and "Usage" in r.output, cmd


def test_init_creates_store_and_commented_config(home):
    assert (home / "iloop.sqlite").exists() and (home / "chroma").is_dir()
    text = (home / "config.yaml").read_text()
    assert '# roles:' in text and '#     model: "qwen2.5-coder-1.5b"' in text and "# max_rounds: 3" in text
    assert load_config(home, env={}).max_rounds == 3


def test_the_home_remembers_its_assets_for_commands_typed_without_iloop_assets(home, assets, monkeypatch):
    monkeypatch.delenv("ILOOP_ASSETS")
    assert load_config(home).assets_path == assets.root.resolve()  # recorded by init, from ILOOP_ASSETS then
    r = iloop(home, "assets", "list")
    assert r.exit_code == 0 and "yes" in r.output.split("smollm2-135m")[1].splitlines()[0]
    other = home.parent / "other-assets"
    assert load_config(home, env={"ILOOP_ASSETS": str(other)}).assets_path == other  # any source still wins


SETTING = re.compile(r"^# ( *)([\w.-]+):( |$)")


def uncomment(lines: list[str], index: int, value: str | None = None) -> tuple[str, list[str]]:
    """The template with setting line ``index`` and every section line above it uncommented (the header's
    instruction), its value replaced when given; and the setting's dotted path."""
    out, indent, path = list(lines), len(SETTING.match(lines[index]).group(1)), [SETTING.match(lines[index]).group(2)]
    out[index] = lines[index][2:] if value is None else f"{' ' * indent}{path[0]}: {value}"
    for k in range(index - 1, -1, -1):
        m = SETTING.match(lines[k])
        if indent and m and len(m.group(1)) < indent:
            out[k], indent = lines[k][2:], len(m.group(1))
            path.insert(0, m.group(2))
    return "\n".join(out) + "\n", path


def at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def changed(value) -> list:
    """Other values of the same type, so the test sees the file being read, not the default; a field's own
    bounds may refuse one of them (a growth factor above 1), so there are two."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value / 2, value * 2] if value else [0.5, 0.25]
    return []


def test_every_template_line_uncommented_with_its_sections_loads_and_takes_effect(home):
    template = (home / "config.yaml").read_text()
    lines = template.splitlines()
    defaults = load_config(home, env={}).model_dump(mode="json")
    settings = [k for k, line in enumerate(lines) if SETTING.match(line)]
    leaves = [k for k in settings if k + 1 == len(lines) or not SETTING.match(lines[k + 1])
              or len(SETTING.match(lines[k + 1]).group(1)) <= len(SETTING.match(lines[k]).group(1))]
    assert len(leaves) == len(describe_fields()) - 1  # every setting but home
    for k in settings:
        text, path = uncomment(lines, k)
        (home / "config.yaml").write_text(text)
        assert load_config(home, env={}).model_dump(mode="json") == defaults, lines[k]
    mutated = 0
    for k in leaves:
        _, path = uncomment(lines, k)
        taken = []
        for new in changed(at(defaults, path)):
            (home / "config.yaml").write_text(uncomment(lines, k, json.dumps(new))[0])
            try:
                taken.append(at(load_config(home, env={}).model_dump(mode="json"), path) == new)
            except ConfigError as exc:
                assert "config.yaml line" in str(exc), exc  # refused by the field's bounds, blamed on the line
        assert taken == [] or any(taken) and all(taken), lines[k]
        mutated += bool(taken)
    assert mutated > 40
    (home / "config.yaml").write_text("".join(line[2:] + "\n" if SETTING.match(line) else line + "\n"
                                              for line in lines))  # everything at once
    assert load_config(home, env={}).model_dump(mode="json") == defaults


def test_ingest_stats_export_flow(home, tmp_path):
    f = write_jsonl(tmp_path / "mine.jsonl", [chat("What is recursion?"), chat("What is recursion?"),
                                              chat("请介绍一下长城。")])
    r = iloop(home, "ingest", str(f))
    assert r.exit_code == 0, r.output
    assert "mine.jsonl" in r.output
    r = iloop(home, "stats", "--json")
    data = json.loads(r.stdout)
    assert data["schema_version"] == 1
    assert data["conversations"]["total"] == 2 and data["conversations"]["by_lang"] == {"en": 1, "zh": 1}
    assert data["ingest"]["outcomes"]["duplicate"] == 1
    out = tmp_path / "x.jsonl"
    r = iloop(home, "export", "--format", "sharegpt", "--out", str(out))
    # nothing selected or generated yet: the dataset is empty, the whole store is two conversations
    assert r.exit_code == 0 and out.read_text() == "" and "0 records (the dataset)" in r.output
    r = iloop(home, "export", "--format", "sharegpt", "--out", str(out), "--all")
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 2 and "the whole store" in r.output


def test_bad_file_exits_non_zero_and_names_it(home, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_bytes(b"\xff\xfe[\x00")
    r = iloop(home, "ingest", str(bad))
    assert r.exit_code == 1 and "broken.json" in r.output and "UTF-16" in r.output
    r = iloop(home, "ingest")
    assert r.exit_code == 2 and "nothing to ingest" in r.output


def test_builtin_pool_and_set_override(home):
    r = iloop(home, "--set", "ingest.batch_size=500", "ingest", "--builtin", "alpaca-zh")
    assert r.exit_code == 0, r.output
    assert json.loads(iloop(home, "stats", "--json").stdout)["conversations"]["by_source"] == {"alpaca-zh": 992}
    r = iloop(home, "--set", "nonsense", "stats")
    assert r.exit_code == 2 and "KEY=VALUE" in r.output


def test_run_and_resume(home, tmp_path):
    from settings import ROLES
    from tests.fakes import ScriptedOpenAI
    from tests.graph.test_graph import fake_llm

    f = write_jsonl(tmp_path / "p.jsonl", [chat(f"python item {k}") for k in range(4)])
    with ScriptedOpenAI(responder=fake_llm) as srv:
        sets = [x for r in ROLES for x in ("--set", f"roles.{r}.base_url={srv.base_url}")]
        r = iloop(home, *sets, "run", "--pool", str(f), "--max-rounds", "1")
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        assert summary["rounds"] == 1 and summary["stop_reason"] == "max_rounds"
        r = iloop(home, *sets, "run", "--resume")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["thread"] == summary["thread"]
        r = iloop(home, "taxonomy", "--json")
        data = json.loads(r.stdout)
        assert data["canonical"] == {"en": 2, "zh": 2}


def test_assets_list_and_graph(home):
    r = iloop(home, "assets", "list")
    assert r.exit_code == 0 and "sharegpt" in r.output
    r = iloop(home, "graph")
    assert "begin_round" in r.output and "measure" in r.output


def test_score_finetune_select(home):
    from settings import load_config
    from agents.resources import Resources
    from tests.tools.test_select_seeds import add_pool

    add_pool(Resources(load_config(home)))
    r = iloop(home, "score", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["scored_new"] == 24 and data["loss_mean"] > 0 and data["model_key"].startswith("smollm2-135m:")
    assert json.loads(iloop(home, "score", "--json").stdout)["scored_new"] == 0  # cached
    r = iloop(home, "finetune", "--steps", "3")
    assert r.exit_code == 0 and "adapter" in r.output and (home / "adapters" / "latest").exists(), r.output
    r = iloop(home, "select", "--dry-run", "--json")  # finetune.steps is 4 here, not 3: it retrains, says so on stderr
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["by_criterion"]["multi_skill"] == 6 and "fine-tuning" in r.stderr
    assert json.loads(iloop(home, "stats", "--json").stdout)["seeds"]["total"] == 0
    r = iloop(home, "select", "--strategy", "criteria")
    assert r.exit_code == 0 and "new seeds" in r.output, r.output
    seeds = json.loads(iloop(home, "stats", "--json").stdout)["seeds"]
    assert seeds["by_criterion"]["multi_skill"] == 6 and seeds["by_strategy"] == {"criteria": seeds["total"]}
    r = iloop(home, "select", "--strategy", "everything")
    assert r.exit_code == 1 and "criteria, ila or both" in r.output


def test_leakage_command_removes_leaks_reports_them_and_refuses_a_bad_bench_file(home, tmp_path):
    f = write_jsonl(tmp_path / "pool.jsonl", [chat("How do I make apple juice?"), chat("Name a prime above 90."),
                                              chat("Explain how a bloom filter works.")])
    assert iloop(home, "ingest", str(f)).exit_code == 0
    mine = write_jsonl(tmp_path / "house.jsonl", [{"prompt": "Explain how a bloom filter works."}])
    r = iloop(home, "leakage", "--bench", str(mine), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    # MiniLM skipped the prime question: USE, the screen, put it below its band (leakage.screen)
    assert data["pool"] == {"checked": 3, "removed": 2, "band": 2, "screened_turns": {"minilm-l6-v2": 1}}
    assert data["report"].endswith(".jsonl")
    stats = json.loads(iloop(home, "stats", "--json").stdout)
    assert stats["conversations"]["total"] == 1 and stats["leakage"]["removed"] == 2
    assert stats["leakage"]["by_benchmark"] == {"alpaca-eval": 1, "house": 1}
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "ok"}, {"score": 3}])
    r = iloop(home, "leakage", "--bench", str(bad))
    assert r.exit_code == 2 and "bad.jsonl" in r.output and "record 1" in r.output


def test_evolve_command_evolves_admits_and_tags(home, tmp_path, monkeypatch):
    import sqlalchemy as sa

    from settings import ROLES
    from state.db import Store
    from tests.tools.test_evolve_seeds import responder
    from tests.fakes import ScriptedOpenAI
    from tests.graph.test_graph import fake_llm

    f = write_jsonl(tmp_path / "pool.jsonl", [chat("Explain how a hash map works."), chat("Describe the water cycle.")])
    assert iloop(home, "ingest", str(f)).exit_code == 0
    with Store(f"sqlite:///{home / 'iloop.sqlite'}").engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[]', '{}', 'selected', 0, '2026-01-01' "
                             "FROM conversations"))
    reply = lambda body, task: fake_llm(body, task) if task == "tag" else responder(body, task)
    with ScriptedOpenAI(responder=reply) as srv:
        for role in ROLES:
            monkeypatch.setenv(f"ILOOP_ROLES__{role.upper()}__BASE_URL", srv.base_url)
        r = iloop(home, "evolve", "--limit", "1", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["evolution"]["seeds"] == 1 and data["evolution"]["counts"] == {"accepted": 1}
    assert data["leakage"]["candidates"]["admitted"] == 1 and data["tagged"]["tagged"] == 1
    stats = json.loads(iloop(home, "stats", "--json").stdout)
    assert stats["conversations"]["by_origin"] == {"evolved": 1, "pool": 2}
    assert stats["evolution"]["accepted"] == 1 and stats["seeds"]["by_status"] == {"evolved": 1, "selected": 1}


def test_ingest_explains_skips_on_the_console_and_fails_when_nothing_is_a_conversation(home, tmp_path):
    bad = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"p{k}", "text": "t"} for k in range(300)])
    r = iloop(home, "ingest", str(bad))
    assert r.exit_code == 1, r.output
    assert "skip:wrong_schema=300" in flat(r.stdout)
    assert "e.g. record 0, byte 0: skip:wrong_schema: expected a 'conversations' (ShareGPT)" in flat(r.stderr)
    assert "found keys [prompt, text]" in flat(r.stderr) and "no conversation in 300 records" in flat(r.stderr)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{"prompt": "p"}, chat("a real question")])
    r = iloop(home, "ingest", str(mixed))
    assert r.exit_code == 0 and "record 0, byte 0: skip:wrong_schema" in flat(r.stderr), r.output


def test_ingest_reads_a_folder_compressed_files_and_wrapped_records(home, tmp_path):
    import gzip

    pool = tmp_path / "pool"
    pool.mkdir()
    write_jsonl(pool / "a.jsonl", [chat("folder a")])
    (pool / "b.jsonl.gz").write_bytes(gzip.compress((json.dumps(chat("folder b")) + "\n").encode()))
    (pool / "c.json").write_text(json.dumps({"meta": {}, "data": [chat("folder c1"), chat("folder c2")]}))
    (pool / "README.md").write_text("not data")
    r = iloop(home, "ingest", str(pool))
    assert r.exit_code == 0, r.output
    assert "records read from the list under 'data'" in flat(r.stdout)
    stats = json.loads(iloop(home, "stats", "--json").stdout)["conversations"]
    assert stats["by_source"] == {"a": 1, "b": 1, "c": 2}
    (tmp_path / "nothing").mkdir()
    r = iloop(home, "ingest", str(tmp_path / "nothing"))
    assert r.exit_code == 1 and "a folder with no file to ingest" in flat(r.output) and "Errno" not in r.output
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"dev": [chat("dev q")], "eval": [chat("eval q")]}))
    r = iloop(home, "ingest", str(splits))
    assert r.exit_code == 1 and "--records-key KEY" in flat(r.output)
    assert iloop(home, "ingest", str(splits), "--records-key", "eval").exit_code == 0


def test_a_bad_set_names_the_set_the_full_key_and_the_closest_keys(home):
    r = iloop(home, "--set", "taging.max_per_round=3", "stats")
    assert r.exit_code == 2
    assert "--set taging.max_per_round=3: unknown setting 'taging.max_per_round'" in flat(r.output)
    assert "closest valid keys: tagging.max_per_round" in flat(r.output) and "config.yaml" not in r.output
