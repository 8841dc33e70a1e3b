"""Run control shared by `iloop run` and the console: a run in the background, its status, pause, stop and the
answers of review mode.

Everything lives in ``<home>/console/``: ``run.json`` (the run's status, written atomically by both sides),
``pause`` (a request the run takes after the node it is in), ``review.json`` (a person's answer to a review
stop) and one log file per started run. A pause or a review stop ends the `iloop run` process after a node, with
its checkpoint written, so a paused run holds no memory or model for days; resuming starts `iloop run --resume`,
which continues the same thread. Stop terminates the process group: the checkpoint and the store's crash safety
(tests/graph/test_kill_resume.py) make that safe too, and a resume continues from the last finished node.
Every start, pause, stop and review answer is also a decision (node console).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from state import decisions, rounds, seeds
from state.db import Store
from state.decisions import Action, Node

REVIEW_NODES = ("evolver", "targeted_synthesizer")  # where review mode stops: what is about to spend the most
LIVE = ("starting", "running")


def control_dir(home: Path) -> Path:
    path = Path(home) / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:  # our own child that exited is a zombie until reaped (kill(pid, 0) still finds it): reap it first
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    return rounds.process_alive(pid)


def read_status(home: Path) -> dict[str, Any]:
    """The run's status; a run recorded as live whose process is gone reads as ``exited`` (killed or crashed: a
    resume continues from its last checkpoint). ``{"state": "none"}`` before any run."""
    path = control_dir(home) / "run.json"
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "none"}
    if status.get("state") in LIVE and not _alive(int(status.get("pid") or 0)):
        status["state"] = "exited"
    return status


def write_status(home: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into run.json (write to a temporary file, then rename: a reader never sees half)."""
    path = control_dir(home) / "run.json"
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    status.update(fields, updated_at=time.time())
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # console sessions are threads
    tmp.write_text(json.dumps(status, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return status


def _decide(store: Store, action: Action, reason: str, evidence: dict[str, Any]) -> None:
    decisions.record_one(store, rounds.last_number(store), Node.CONSOLE, f"run:{evidence.get('thread') or ''}",
                         action, reason, evidence)


def start_run(home: Path, store: Store, cli_args: list[str], *, resume: bool = False, review: bool = False,
              who: str = "user") -> dict[str, Any]:
    """Start `iloop <cli_args> run [--resume] [--review]` in its own process group, its output to a log file;
    refused while a run is live."""
    now = read_status(home)
    if now.get("state") in LIVE:
        raise RuntimeError(f"a run is already going (pid {now.get('pid')}); pause or stop it first")
    log = control_dir(home) / f"run-{time.strftime('%Y%m%d-%H%M%S')}.log"
    cmd = [sys.executable, "-m", "cli.main", *cli_args, "run"] + (["--resume"] if resume else []) + \
        (["--review"] if review else [])
    clear_pause(home)
    (control_dir(home) / "run.json").unlink(missing_ok=True)  # a fresh status: nothing of the last run carries over
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"})
    status = write_status(home, pid=proc.pid, state="starting", log=str(log), review=review, resume=resume,
                          started_at=time.time(), started_by=who, node="", next=[], error="")
    _decide(store, Action.START_RUN, f"{'resumed' if resume else 'started'} by {who}" +
            (" in review mode" if review else ""), {"who": who, "pid": proc.pid, "resume": resume, "review": review,
                                                    "thread": status.get("thread", "")})
    return status


def request_pause(home: Path, store: Store, who: str = "user") -> None:
    """Ask the live run to stop after the node it is in (checkpointed; resume continues); refused when no run is
    live (a stale request would pause the next run started from the command line)."""
    status = read_status(home)
    if status.get("state") not in LIVE:
        raise RuntimeError(f"no run is going (state {status.get('state')}): nothing to pause")
    # names the run's pid: the run takes only a request meant for it (clear_stale_pause)
    (control_dir(home) / "pause").write_text(json.dumps({"who": who, "pid": status.get("pid")}), encoding="utf-8")
    _decide(store, Action.PAUSE_RUN, f"pause asked for by {who} during {status.get('node') or 'the start'}",
            {"who": who, "thread": status.get("thread", ""), "requested": True})


def pause_requested(home: Path) -> bool:
    return (control_dir(home) / "pause").exists()


def clear_stale_pause(home: Path, pid: int) -> None:
    """Drop a pause request meant for another process (left from an earlier run); keep one for ``pid``, which
    the console may have written between starting the process and the process reaching its first node."""
    try:
        meant = json.loads((control_dir(home) / "pause").read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        meant = None
    if meant != pid:
        clear_pause(home)


def clear_pause(home: Path) -> None:
    (control_dir(home) / "pause").unlink(missing_ok=True)


def stop_run(home: Path, store: Store, who: str = "user", wait: float = 20.0) -> bool:
    """Terminate the live run's process group (SIGTERM, then SIGKILL after ``wait`` s); False when none runs."""
    status = read_status(home)
    if status.get("state") not in LIVE:
        return False
    pid = int(status["pid"])

    def send(sig: int) -> None:  # the whole group when the run leads one (started here), else the process alone
        try:
            os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
        except ProcessLookupError:
            pass

    send(signal.SIGTERM)
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        send(signal.SIGKILL)
        time.sleep(0.5)
    if _alive(pid):
        raise RuntimeError(f"run pid {pid} did not end after SIGKILL")
    write_status(home, state="stopped", stopped_by=who)
    _decide(store, Action.STOP_RUN, f"stopped by {who} during {status.get('node') or 'the start'}",
            {"who": who, "thread": status.get("thread", ""), "node": status.get("node", "")})
    return True


def answer_review(home: Path, store: Store, node: str, action: str, drop_seeds: list[int], who: str = "user",
                  thread: str = "") -> dict[str, Any]:
    """A person's answer to a review stop before ``node``: approve or skip, and seeds to drop (before evolution);
    the resumed run applies it (apply_review)."""
    if node not in REVIEW_NODES or action not in ("approve", "skip"):
        raise ValueError(f"review answer {action!r} for {node!r}: expected approve|skip for {REVIEW_NODES}")
    answer = {"node": node, "action": action, "drop_seeds": sorted(set(drop_seeds)), "who": who, "at": time.time(),
              "thread": thread or read_status(home).get("thread", "")}
    (control_dir(home) / "review.json").write_text(json.dumps(answer), encoding="utf-8")
    return answer


def review_answer(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((control_dir(home) / "review.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def clear_review_answer(home: Path) -> None:
    (control_dir(home) / "review.json").unlink(missing_ok=True)


def apply_review(graph, run_config: dict, store: Store, answer: dict[str, Any] | None) -> str:
    """Apply a review answer to a thread stopped before the answer's node: drop the seeds, and for skip mark the
    node as done without running it (LangGraph update_state as that node). Returns what was done, in words."""
    pending = tuple(graph.get_state(run_config).next)
    thread = run_config["configurable"]["thread_id"]
    if not answer or not pending or answer.get("node") != pending[0] or answer.get("thread", thread) != thread:
        return ""
    node, round_ = pending[0], int(graph.get_state(run_config).values.get("db_round", 0))
    dropped = seeds.drop(store, [int(x) for x in answer.get("drop_seeds", [])], round_, answer.get("who", "user"))
    if answer["action"] == "skip":
        part = "evolution" if node == "evolver" else "synthesis"
        graph.update_state(run_config, {part: {"skipped": f"review: skipped by {answer.get('who', 'user')}"}},
                           as_node=node)
    what = f"{answer['action']} {node}" + (f", {dropped} seeds dropped" if dropped else "")
    decisions.record_one(store, round_, Node.CONSOLE, f"review:{node}:{round_}", Action.REVIEW,
                         f"{what} by {answer.get('who', 'user')}", {**answer, "dropped": dropped})
    return what


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BAR = re.compile(r"^\s*([^:|]{1,60}):\s+\d+%\|")  # a tqdm bar: "desc:  12%|█  | 1/8 [...]"


def screen_lines(text: str) -> list[str]:
    """The lines a terminal would leave of ``text``: a carriage return overwrites its line, cursor moves (nested
    tqdm bars) go, blank lines go, and successive states of one progress bar keep only the last."""
    out: list[str] = []
    for raw in text.split("\n"):
        line = _ANSI.sub("", raw).rstrip("\r").split("\r")[-1].rstrip()
        if not line.strip():
            continue
        bar, prev = _BAR.match(line), _BAR.match(out[-1]) if out else None
        if bar and prev and bar.group(1) == prev.group(1):
            out[-1] = line
        else:
            out.append(line)
    return out


def tail(path: str | Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a log as a terminal would show them (screen_lines; reads at most the last
    64 KiB)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 65536))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(screen_lines(text)[-lines:])
