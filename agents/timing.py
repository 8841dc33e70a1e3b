"""Wall time of every node, as the metric ``node_seconds_<node>`` of the round it ran in: what `iloop plan` reads
to estimate the next rounds, and what a user reads to see where a round's hours went."""
from __future__ import annotations

import functools
import time
from typing import Any, Callable

from langchain_core.runnables import RunnableConfig

from agents.resources import resources
from agents.state import IloopState
from state.metrics import record_metrics

NodeFn = Callable[[IloopState, RunnableConfig], dict[str, Any]]


def timed(name: str, fn: NodeFn) -> NodeFn:
    """``fn`` with its wall time recorded (a node re-run after a crash replaces its first run's figure)."""
    @functools.wraps(fn)
    def run(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
        start = time.perf_counter()
        out = fn(state, config)
        round_ = (out or {}).get("db_round") or state.get("db_round", 0)
        if round_:
            record_metrics(resources(config).store, round_, {f"node_seconds_{name}": time.perf_counter() - start})
        return out
    return run
