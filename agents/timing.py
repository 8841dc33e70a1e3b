"""Wall time and LLM tokens of every node, as the metrics ``node_seconds_<node>`` and ``node_tokens_<node>`` of the
round it ran in: what `iloop plan` reads to estimate the next rounds, and what a user reads to see where a round's
hours and tokens went. Tokens are the round's token usage before and after the node (nodes run one at a time);
like token_usage they count what was spent, so a node re-run after a crash counts only its re-run's calls.

The same wrapper applies the settings the round took from the console (``steered_settings``) to the configuration
each node reads: one place, so no node can forget them."""
from __future__ import annotations

import functools
import time
from typing import Any, Callable

from langchain_core.runnables import RunnableConfig

from agents.resources import iloop_config, resources
from settings.steerable import with_settings
from agents.state import IloopState
from state.llm_calls import tokens_of_round
from state.metrics import record_metrics

NodeFn = Callable[[IloopState, RunnableConfig], dict[str, Any]]


def steered_config(state: IloopState, config: RunnableConfig) -> RunnableConfig:
    """``config`` with the round's steered settings applied to its iloop configuration (unchanged without any)."""
    steered = (state or {}).get("steered_settings") or {}
    if not steered:
        return config
    cfg = with_settings(iloop_config(config), steered)
    return {**config, "configurable": {**(config.get("configurable") or {}), "iloop_config": cfg.model_dump_json()}}


def timed(name: str, fn: NodeFn) -> NodeFn:
    """``fn`` with its wall time recorded (a node re-run after a crash replaces its first run's figure)."""
    @functools.wraps(fn)
    def run(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
        config = steered_config(state, config)
        store, before_round = resources(config).store, state.get("db_round", 0)
        tokens_before = tokens_of_round(store, before_round) if before_round else 0
        start = time.perf_counter()
        out = fn(state, config)
        round_ = (out or {}).get("db_round") or before_round
        if round_:
            spent = tokens_of_round(store, round_) - (tokens_before if round_ == before_round else 0)
            record_metrics(store, round_, {f"node_seconds_{name}": time.perf_counter() - start,
                                           f"node_tokens_{name}": spent})
        return out
    return run
