"""SIGKILL inside the loop's nodes, then `iloop run --resume`: the store ends with the same rows as a run that was
never interrupted (the LLM cache makes the replays free), nothing lost and nothing duplicated.

Both runs are real `iloop run` child processes on a real SQLite file, real Chroma, the real embedder and the real
SmolLM2 scorer and fine-tune; the LLM roles answer from the graph tests' script over HTTP. The killed run is killed
eight times, each at a seeded random moment after a given node reported (so inside the node that follows, or
later when that one is short), and resumed after each kill.
"""
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from settings import ROLES
from tests.fakes import ScriptedOpenAI
from tests.graph.scripted import fake_llm, pool_file

# Columns that record when or how fast, not what: a resumed run writes them at other times. Row ids too: a row
# rewritten after a crash gets a new one; references between rows (conversation_id, tag_id, ...) are compared.
VOLATILE = {"id", "created_at", "updated_at", "started_at", "finished_at", "latency_s"}
# token_usage is the accounting of calls made: a killed run really did spend its calls, and replays count as cache
# hits, so it differs by design; the LLM cache itself (llm_calls) must be the same.
NOT_COMPARED = {"token_usage", "schema_version"}
# (node whose report starts the clock, seconds to wait at most): one kill per entry, in the order the loop runs
KILLS = [("ingest", 3.0), ("tagger", 2.0), ("seed_selector", 3.0), ("leakage_guard", 3.0),
         ("targeted_synthesizer", 2.0), ("tag_new", 2.0), ("begin_round", 1.0), ("seed_selector", 3.0)]


def command(home: Path, server: str, *args: str) -> list[str]:
    sets = ["scoring.model=smollm2-135m", "finetune.steps=8", "finetune.batch_size=4", "tagging.batch_size=5",
            "max_rounds=2", "evolution.max_per_round=2", "diagnosis.sample_size=3", "diagnosis.answer_max_tokens=16",
            "synthesis.max_per_round=2", "selection.hard_count=12"]
    sets += [f"roles.{r}.base_url={server}" for r in ROLES]
    iloop = str(Path(sys.executable).with_name("iloop"))
    return [iloop, "--home", str(home)] + [x for s in sets for x in ("--set", s)] + list(args)


def child_env(assets) -> dict:
    return {**os.environ, "ILOOP_ASSETS": str(assets.root), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def run_until(cmd: list[str], env: dict, kill_after: str | None, wait: float, log: list[str]) -> int | None:
    """Run ``cmd``; after the first line that reports ``kill_after``, SIGKILL its process group ``wait`` seconds
    later. Returns the exit code, or None when it was killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    killed = threading.Event()

    def kill_later():
        time.sleep(wait)
        if proc.poll() is None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

    for line in proc.stdout:
        log.append(line.rstrip())
        if kill_after and line.split(" ", 1)[0] == kill_after and not killed.is_set():
            threading.Thread(target=kill_later, daemon=True).start()
            kill_after = None
    rc = proc.wait(timeout=900)
    return None if killed.is_set() else rc


# Measured speeds and durations inside JSON evidence and metric names: the same work at another speed.
# node_tokens_<node> is accounting, as token_usage: a re-run counts only its own calls. padding_share is batching
# efficiency: a resumed run scores only the texts the killed one had not, so its batches (and padding) differ.
SPEED = re.compile(r"tokens_per_s|_s$|seconds|timings|latency|this_call|node_tokens_|padding")


def normal(value, home: str):
    """A value with speeds dropped, the home's path replaced and floats to 9 digits (BLAS sums vary in the last
    bits between processes), JSON text parsed and normalised the same way."""
    if isinstance(value, str):
        if value[:1] in "{[":
            try:
                return normal(json.loads(value), home)
            except ValueError:
                pass
        return value.replace(home, "<home>")
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: normal(v, home) for k, v in value.items() if not SPEED.search(k)}
    if isinstance(value, (list, tuple)):
        return [normal(v, home) for v in value]
    return value


def table_digest(db: Path) -> dict[str, tuple[int, str]]:
    """table -> (rows, sha256 of its sorted, normalised rows without the volatile columns)."""
    home = str(db.parent)
    conn = sqlite3.connect(db)
    out = {}
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                        "'sqlite_%'")]
    for name in sorted(set(names) - NOT_COMPARED):
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info({name})") if c[1] not in VOLATILE
                and not (name == "map_points" and c[1] in ("x", "y"))]  # compared with a tolerance: map_places
        where = " WHERE action != 'interrupt'" if name == "decisions" else ""  # the crash's own record
        rows = [dict(zip(cols, r)) for r in conn.execute(f"SELECT {', '.join(cols)} FROM {name}{where}")]
        if name == "metrics":
            rows = [r for r in rows if not SPEED.search(r["name"])]
        rows = sorted(json.dumps(normal(r, home), sort_keys=True, default=str) for r in rows)
        out[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
    conn.close()
    return out


def test_sigkill_at_eight_points_then_resume_ends_with_the_rows_of_an_uninterrupted_run(tmp_path, assets):
    pool = pool_file(tmp_path, n=24, leaks=2)
    with ScriptedOpenAI(responder=fake_llm) as srv:
        env = child_env(assets)
        log: list[str] = []
        clean = tmp_path / "clean"
        assert run_until(command(clean, srv.base_url, "run", "--thread", "k", "--pool", str(pool)), env, None, 0,
                         log) == 0, "\n".join(log[-40:])
        killed_home = tmp_path / "killed"
        rng = random.Random(int(os.environ.get("ILOOP_KILL_SEED", "14")))  # other seeds probe other moments
        args = ["run", "--thread", "k", "--pool", str(pool)]
        kills = 0
        for node, most in KILLS:
            rc = run_until(command(killed_home, srv.base_url, *args), env, node, rng.uniform(0, most), log)
            args = ["run", "--resume", "--thread", "k"]
            if rc is None:
                kills += 1
            else:  # the run finished before this kill point: nothing left to kill
                assert rc == 0, "\n".join(log[-40:])
                break
        else:
            assert run_until(command(killed_home, srv.base_url, *args), env, None, 0, log) == 0, "\n".join(log[-40:])
    assert kills >= 5, f"only {kills} kills landed before the run finished"
    want, got = table_digest(clean / "iloop.sqlite"), table_digest(killed_home / "iloop.sqlite")
    differ = {t: (want.get(t), got.get(t)) for t in set(want) | set(got) if want.get(t) != got.get(t)}
    assert not differ, f"tables that differ (rows, hash) clean vs killed: {differ}"
    assert want["conversations"][0] > 24 and want["decisions"][0] > 50  # the runs did real work
    assert vector_ids(clean / "chroma") == vector_ids(killed_home / "chroma")
    a, b = map_places(clean / "iloop.sqlite"), map_places(killed_home / "iloop.sqlite")
    assert a.keys() == b.keys() and max(abs(p - q) for k in a for p, q in zip(a[k], b[k])) < 1e-4


def map_places(db: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """Places on the map: equal up to float noise (a resumed embed batches the texts otherwise, and BLAS sums in
    another order move a t-SNE place by about 1e-7), not bit for bit."""
    conn = sqlite3.connect(db)
    out = {(m, h): (x, y) for m, h, x, y in conn.execute("SELECT map_id, content_hash, x, y FROM map_points")}
    conn.close()
    return out


def vector_ids(path: Path) -> dict[str, list[str]]:
    from state.vectors import VectorStore

    client = VectorStore(path).client
    return {c.name: sorted(client.get_collection(c.name).get(include=[])["ids"]) for c in client.list_collections()}
