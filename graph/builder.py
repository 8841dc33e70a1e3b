"""The LangGraph state machine. Each stage issue adds its agent node here; there is no other pipeline.

Current loop: begin_round -> ingest -> embed -> pool_leakage_guard -> tagger -> taxonomist -> coverage_analyst ->
seed_selector -> evolver -> leakage_guard -> oracle_diagnoser -> targeted_synthesizer -> synthesis_guard -> tag_new ->
measure -> (begin_round | finish).
The leakage guard sits at three places: pool_leakage_guard checks the pool before anything is tagged or seeded,
leakage_guard checks the evolver's candidates before they become conversations (and before M_FT trains on the
dataset for diagnosis), and synthesis_guard checks the targeted synthesizer's.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.graph import END, START, StateGraph

from agents import (begin_round, coverage_analyst, embed, evolver, finish, ingest, leakage_guard, measure,
                    oracle_diagnoser, pool_leakage_guard, seed_selector, synthesis_guard, tag_new, tagger,
                    targeted_synthesizer, taxonomist)
from agents.state import IloopInput, IloopOutput, IloopState
from agents.timing import timed


def build_loop_graph() -> StateGraph:
    """The loop as a LangGraph StateGraph; every node is ``agents.<name>.node`` under the same name, timed
    (agents/timing.py)."""
    g = StateGraph(IloopState, input_schema=IloopInput, output_schema=IloopOutput)
    g.add_node("begin_round", timed("begin_round", begin_round.node))
    g.add_node("ingest", timed("ingest", ingest.node))
    g.add_node("embed", timed("embed", embed.node))
    g.add_node("pool_leakage_guard", timed("pool_leakage_guard", pool_leakage_guard.node))
    g.add_node("tagger", timed("tagger", tagger.node))
    g.add_node("taxonomist", timed("taxonomist", taxonomist.node))
    g.add_node("coverage_analyst", timed("coverage_analyst", coverage_analyst.node))
    g.add_node("seed_selector", timed("seed_selector", seed_selector.node))
    g.add_node("evolver", timed("evolver", evolver.node))
    g.add_node("leakage_guard", timed("leakage_guard", leakage_guard.node))
    g.add_node("oracle_diagnoser", timed("oracle_diagnoser", oracle_diagnoser.node))
    g.add_node("targeted_synthesizer", timed("targeted_synthesizer", targeted_synthesizer.node))
    g.add_node("synthesis_guard", timed("synthesis_guard", synthesis_guard.node))
    g.add_node("tag_new", timed("tag_new", tag_new.node))
    g.add_node("measure", timed("measure", measure.node))
    g.add_node("finish", timed("finish", finish.node))
    g.add_edge(START, "begin_round")
    g.add_edge("begin_round", "ingest")
    g.add_edge("ingest", "embed")
    g.add_edge("embed", "pool_leakage_guard")
    g.add_edge("pool_leakage_guard", "tagger")
    g.add_edge("tagger", "taxonomist")
    g.add_edge("taxonomist", "coverage_analyst")
    g.add_edge("coverage_analyst", "seed_selector")
    g.add_edge("seed_selector", "evolver")
    g.add_edge("evolver", "leakage_guard")
    g.add_edge("leakage_guard", "oracle_diagnoser")
    g.add_edge("oracle_diagnoser", "targeted_synthesizer")
    g.add_edge("targeted_synthesizer", "synthesis_guard")
    g.add_edge("synthesis_guard", "tag_new")
    g.add_edge("tag_new", "measure")
    g.add_conditional_edges("measure", measure.route_after_measure, ["begin_round", "finish"])
    g.add_edge("finish", END)
    return g


def compile_with_checkpointer(checkpoint_path: Path, interrupt_before: tuple[str, ...] | list[str] | None = None):
    """Compiled graph with a SQLite checkpointer in its own file (not the data store: different lifecycles);
    ``interrupt_before``: nodes to stop before (review mode, graph/control.py)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(checkpoint_path), check_same_thread=False)
    return build_loop_graph().compile(checkpointer=SqliteSaver(conn),
                                      interrupt_before=list(interrupt_before) if interrupt_before else None)


# For LangGraph Studio / `langgraph dev` (langgraph.json points here); Studio supplies its own checkpointer.
graph = build_loop_graph().compile()
