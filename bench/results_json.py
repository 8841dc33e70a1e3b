"""Where bench scripts leave their figures: bench/results/<name>.json, one file per script, overwritten each run.

Each file records when and on what the figures were measured (machine, CPU count, git commit) beside the script's
own dict, so README's performance section can cite a file rather than a memory.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def write_result(name: str, figures: dict) -> Path:
    """Write ``figures`` (JSON-serialisable) as bench/results/<name>.json with the run's context; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {"bench": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": _commit(),
           "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "python": platform.python_version()},
           "figures": figures}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {path.relative_to(RESULTS.parent.parent)}")
    return path
