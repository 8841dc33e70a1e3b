"""Loop commands of `iloop`: run (the LangGraph state machine), serve, graph."""
from __future__ import annotations

import json
import os
import time
import uuid
from typing import List, Optional

import typer

from cli.common import config, console, fail, options, out, resources


def serve(roles: List[str] = typer.Option([], "--role", help="Roles whose models to serve; default all."),
          engine: Optional[str] = typer.Option(None, help="llama.cpp or vllm (default: the server.engine setting). "
                                               "Commands in other terminals reuse these servers only when their "
                                               "config names the same engine.")) -> None:
    """Run the embedded OpenAI-compatible server(s) on 127.0.0.1 until Ctrl-C."""
    from settings import ROLES
    from tools.embedded_server import embedded_servers, endpoint

    if engine is not None:
        options.overrides.append(f"server.engine={engine}")
    cfg = config()
    chosen = roles or list(ROLES)
    with embedded_servers(cfg, chosen) as models:
        if not models:
            fail("no role uses the embedded server (every base_url points elsewhere)", 2)
        for r in chosen:
            out.print(f"{r}: {endpoint(cfg, r)[0]} model={cfg.role(r).model} engine={cfg.server.engine}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            out.print("stopping")


def run(resume: bool = typer.Option(False, help="Continue the last thread (or --thread) from its checkpoint."),
        thread: Optional[str] = typer.Option(None, help="Thread id (default: new, or the last one with --resume)."),
        pool: List[str] = typer.Option([], "--pool", help="Pools for this run (path or builtin:NAME)."),
        max_rounds: Optional[int] = typer.Option(None, help="Override max_rounds for this run."),
        max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Token budget of this run (prompt + "
                                                 "completion, cache hits free): the loop stops at the end of the "
                                                 "round that reaches it."),
        review: bool = typer.Option(False, "--review", help="Review mode: stop before the evolver and before the "
                                    "targeted synthesizer so a person can approve, edit or skip (the console's Run "
                                    "page answers; `--resume --review` continues).")) -> None:
    """Run the closed loop as a LangGraph state machine (checkpointed; --resume continues). It stops when every
    coverage and depth figure has plateaued (measure.patience rounds), after max_rounds, or at the token budget.
    A pause asked for from the console ends the process after the node it is in; --resume continues."""
    from graph import control
    from graph.builder import compile_with_checkpointer
    from state.rounds import last_thread_id

    if max_rounds is not None:
        options.overrides.append(f"max_rounds={max_rounds}")
    if max_tokens is not None:
        options.overrides.append(f"max_tokens={max_tokens}")
    res = resources()
    cfg = res.config
    if resume and not thread:
        thread = last_thread_id(res.store)
        if thread is None:
            fail("nothing to resume: no run has been recorded in this home", 2)
    thread = thread or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    graph = compile_with_checkpointer(cfg.home / "checkpoints" / "graph.sqlite",
                                      control.REVIEW_NODES if review else None)
    # the router ends the loop (max_rounds, token budget, plateau); this limit only guards against a routing bug,
    # and must not cut a run whose max_rounds a person raised from the console
    run_config = {"configurable": {"thread_id": thread, "iloop_config": cfg.model_dump_json()},
                  "recursion_limit": RECURSION_LIMIT}
    inputs = None if resume else {"pools": pool} if pool else {}
    control.clear_stale_pause(cfg.home, os.getpid())  # a request left from an earlier run is not this run's
    control.write_status(cfg.home, pid=os.getpid(), thread=thread, state="running", review=review, error="")
    console.print(f"thread {thread}")
    from state.steering import setting_values
    steered = setting_values(res.store)
    if steered:  # they win over config and flags from the next round on (the console's Steering page)
        console.print("[yellow]steered settings[/] " + ", ".join(f"{k}={v:g}" for k, v in sorted(steered.items())))
    try:
        if resume:
            answer = control.review_answer(cfg.home)
            done = control.apply_review(graph, run_config, res.store, answer)
            if done:
                control.clear_review_answer(cfg.home)
                console.print(f"[yellow]review[/] {done}")
            pending = tuple(graph.get_state(run_config).next)
            # waiting before a review node with no answer (paused or killed there): LangGraph would not stop again
            if review and not done and pending and pending[0] in control.REVIEW_NODES:
                _stop_for_review(graph, run_config, res.store, cfg.home)
                return
        if _stream(graph, inputs, run_config, cfg.home, res.store, review):
            return
    except BaseException as exc:
        control.write_status(cfg.home, state="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    snapshot = graph.get_state(run_config)
    if snapshot.next:  # review mode stopped before a node
        _stop_for_review(graph, run_config, res.store, cfg.home)
        return
    final = snapshot.values
    control.write_status(cfg.home, state="finished", next=[], stop_reason=final.get("stop_reason", ""))
    from state.stats import collect
    out.print_json(json.dumps({"thread": thread, "rounds": final.get("round"), "stop_reason": final.get(
        "stop_reason"), "tokens": final.get("tokens"), "metrics": final.get("metrics"), "stats": collect(res.store)["conversations"]}))


RECURSION_LIMIT = 1_000_000


def _stop_for_review(graph, run_config, store, home) -> None:
    from graph import control
    from state import decisions
    from state.decisions import Action, Node
    snapshot = graph.get_state(run_config)
    node, round_ = snapshot.next[0], int(snapshot.values.get("db_round", 0))
    control.write_status(home, state="review", next=list(snapshot.next))
    decisions.record_one(store, round_, Node.CONSOLE, f"review:{node}:{round_}", Action.REVIEW,
                         f"stopped for review before {node}", {"thread": run_config["configurable"]["thread_id"],
                                                               "node": node})
    console.print(f"[yellow]review[/] stopped before {node}: approve, edit or skip it, then "
                  f"`iloop run --resume --review`")


def _stream(graph, inputs, run_config, home, store, review: bool) -> bool:
    """Run the graph, printing each node's update and recording it in the run's status; True when it stopped for
    a pause asked for from the console (after the node that was running)."""
    from graph import control
    for update in graph.stream(inputs, run_config, stream_mode="updates"):
        for node_name, delta in update.items():
            if node_name.startswith("__"):
                continue
            console.print(f"[cyan]{node_name}[/] " + _brief(delta))
            control.write_status(home, node=node_name, node_done_at=time.time())
        if control.pause_requested(home):
            control.clear_pause(home)
            snapshot = graph.get_state(run_config)
            if review and snapshot.next and snapshot.next[0] in control.REVIEW_NODES:
                _stop_for_review(graph, run_config, store, home)  # the review stop it was about to make anyway
                return True
            control.write_status(home, state="paused", next=list(snapshot.next))
            from state import decisions
            from state.decisions import Action, Node
            round_ = int(snapshot.values.get("db_round", 0))
            decisions.record_one(store, round_, Node.CONSOLE, f"run:{run_config['configurable']['thread_id']}",
                                 Action.PAUSE_RUN, f"paused before {', '.join(snapshot.next) or 'the end'}",
                                 {"next": list(snapshot.next)})
            console.print(f"[yellow]paused[/] before {', '.join(snapshot.next)}: `iloop run --resume` continues")
            return True
    return False


def _brief(delta) -> str:
    if not isinstance(delta, dict):
        return ""
    parts = []
    for k, v in delta.items():
        if k == "ingested":
            parts.append("; ".join(f"{d['source']}: kept {d['kept']}/{d['records']}" +
                                   (" (already ingested)" if d["skipped_file"] else "") for d in v))
        elif k == "metrics":
            parts.append(f"conversations={v.get('conversations_total')} dataset={v.get('dataset_size', 0):.0f} "
                         f"entropy={v.get('dataset_entropy', 0):.3f} (random {v.get('reference_entropy', 0):.3f}) "
                         f"depth={v.get('dataset_depth_mean', float('nan')):.3f} "
                         f"(random {v.get('reference_depth_mean', float('nan')):.3f})")
        elif k != "history":
            parts.append(f"{k}={v}")
    return " ".join(parts)


def show_graph() -> None:
    """Print the state machine as Mermaid (LangGraph Studio opens it through langgraph.json)."""
    from graph.builder import graph
    out.print(graph.get_graph().draw_mermaid())
