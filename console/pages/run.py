"""Run page: the rounds so far and the current one (node, tokens, ETA), start / pause / resume / stop a run in the
background, and review mode's approve / edit / skip before evolution and synthesis."""
from __future__ import annotations

import json
import time

import pandas as pd
import streamlit as st

from console.common import console, show_messages, who
from graph import control
from graph.builder import build_loop_graph
from settings.steerable import with_settings
from state import rounds, seeds, steering
from state.browse import first_user_text
from state.llm_calls import tokens_of_round
from tools.plan import plan_for_store

ORDER = [n for n in build_loop_graph().nodes if n not in ("finish",)]
c = console()
home = c.cfg.home
st.header("Run")


def eta(status: dict) -> str:
    """Seconds left in this round (iloop plan's measured rates for the nodes still to run) and in the run."""
    cfg = with_settings(c.cfg, steering.setting_values(c.store))
    plan = plan_for_store(c.store, cfg, 1)["nodes"]
    done = status.get("node") or ""
    rest = ORDER[ORDER.index(done) + 1:] if done in ORDER and done != "measure" else ORDER
    this_round = sum(plan.get(n, {}).get("seconds", 0) for n in rest)
    per_round = sum(n["seconds"] for n in plan.values())
    thread = [r for r in rounds.all_rounds(c.store) if r["thread_id"] == status.get("thread")]
    left = max(0, cfg.max_rounds - len(thread))
    return f"this round ≈ {this_round / 60:.0f} min · at most {left} more round(s) ≈ {left * per_round / 60:.0f} min"


@st.fragment(run_every=3)
def live_status() -> None:
    status = control.read_status(home)
    state = status.get("state", "none")
    if st.session_state.setdefault("run_state", state) != state:  # the buttons and review form follow the run
        st.session_state["run_state"] = state
        st.rerun(scope="app")
    all_rounds = rounds.all_rounds(c.store)
    thread_rounds = [r for r in all_rounds if r["thread_id"] == status.get("thread")]
    cols = st.columns(4)
    cols[0].metric("run", state)
    cols[1].metric("rounds of this thread", len(thread_rounds))
    cols[2].metric("last node done", status.get("node") or "–")
    cols[3].metric("tokens this thread", sum(tokens_of_round(c.store, r["number"]) for r in thread_rounds))
    if state in control.LIVE:
        st.caption(f"pid {status.get('pid')} · thread {status.get('thread', '')} · {eta(status)}")
    elif state == "exited":
        st.warning("The run's process ended without finishing (killed or crashed). Resume continues from its last "
                   "finished node.")
    elif state == "failed":
        st.error(f"The run failed: {status.get('error', '')}")
    elif state == "paused":
        st.info(f"Paused before {', '.join(status.get('next', [])) or 'the end'}. Resume continues the thread.")
    elif state == "finished":
        st.success(f"Finished: {status.get('stop_reason', '')}")
    log = control.tail(status.get("log"), 25)
    if log:
        st.code(log, language=None)
    if all_rounds:
        st.dataframe(pd.DataFrame(all_rounds)[["number", "thread_id", "status", "started_at", "finished_at"]],
                     hide_index=True)
    else:
        st.info("No round has run in this home yet: start a run below.")


live_status()
status = control.read_status(home)
state = status.get("state", "none")
st.session_state["run_state"] = state
review_mode = st.checkbox("review mode: stop before evolution and before synthesis", value=bool(status.get("review")))
b = st.columns(4)
try:
    if b[0].button("start a new run", disabled=state in control.LIVE):
        control.start_run(home, c.store, c.cli_args, review=review_mode, who=who())
        st.rerun()
    if b[1].button("pause after this node", disabled=state not in control.LIVE):
        control.request_pause(home, c.store, who())
        st.toast("pause asked for: the run stops after the node it is in")
    if b[2].button("resume", disabled=state in control.LIVE or state in ("none", "finished", "review")):
        control.start_run(home, c.store, c.cli_args, resume=True, review=review_mode, who=who())
        st.rerun()
    if b[3].button("stop now", disabled=state not in control.LIVE):
        control.stop_run(home, c.store, who())
        st.rerun()
except RuntimeError as exc:
    st.error(str(exc))

if state == "review":
    node = (status.get("next") or [""])[0]
    st.subheader(f"Review before {node}")
    cfg = with_settings(c.cfg, steering.setting_values(c.store))
    plan = plan_for_store(c.store, cfg, 1)["nodes"].get(node, {})
    st.write(f"About to spend ≈ {plan.get('tokens', 0)} tokens and {plan.get('seconds', 0) / 60:.0f} min "
             f"({plan.get('source', 'default')}).")
    drop: list[int] = []
    if node == "evolver":
        # the oldest waiting seeds: the ones the evolver takes (state.seeds.pending)
        waiting = seeds.recent_with_instructions(c.store, cfg.evolution.max_per_round or 500, status="selected",
                                                 oldest_first=True)
        st.write(f"{len(waiting)} seeds wait for evolution (evolution.max_per_round {cfg.evolution.max_per_round}). "
                 "Operation weights are on the Steering page; a change there applies to this evolution.")
        labels = {s["seed_id"]: f"seed {s['seed_id']} · {', '.join(json.loads(s['criteria']))} · "
                  f"{first_user_text(s['messages'], 120)}" for s in waiting}
        drop = st.multiselect("drop these seeds (never evolved)", list(labels), format_func=labels.get)
        for s in waiting[:5]:
            with st.expander(labels[s["seed_id"]]):
                show_messages(json.loads(s["messages"]))
    else:
        st.write("The targeted synthesizer will write items for the skills the oracle found missing this round "
                 "(Rounds page, diagnosis).")
    a = st.columns(2)
    for col, action in zip(a, ("approve", "skip")):
        if col.button(f"{action} and resume", key=f"review-{action}"):
            control.answer_review(home, c.store, node, action, drop, who())
            control.start_run(home, c.store, c.cli_args, resume=True, review=True, who=who())
            st.rerun()
st.caption(f"Runs started here run `iloop --home {home} ... run` with this console's settings, their log under "
           f"{home}/console/. "
           f"Updated {time.strftime('%H:%M:%S')}.")
