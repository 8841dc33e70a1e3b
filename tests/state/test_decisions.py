"""The one decision recorder: names from the enumerations only, evidence kept as JSON."""
import pytest

from state import decisions
from state.decisions import Action, DecisionRow, Node


def test_decisions_are_written_and_read_back_by_node_and_action(store):
    decisions.record(store, [DecisionRow(1, Node.EVOLVER, "conversation:3", Action.REJECT_EVOLUTION, "too_short",
                                         {"reason": "too_short"}),
                             DecisionRow(1, Node.EVOLVER, "round:1", Action.EVOLVE, "summary")])
    decisions.record_one(store, 1, Node.EVOLVER, "conversation:4", Action.EVOLVE, "ok", {"rounds": 2})
    assert decisions.counts_by_node(store) == {"evolver": 3}
    assert decisions.evidence_of(store, Node.EVOLVER, Action.REJECT_EVOLUTION) == [{"reason": "too_short"}]
    assert decisions.count(store, Node.EVOLVER, Action.EVOLVE, subject_prefix="conversation:") == 1
    assert decisions.actions_about(store, ["conversation:4"]) == [("conversation:4", "evolver", "evolve")]
    assert decisions.recent(store, "evolver", 1)[0]["subject"] == "conversation:4"


def test_free_strings_are_refused(store):
    with pytest.raises(TypeError, match="Node/Action"):
        decisions.record(store, [DecisionRow(1, "evolver", "x", "evolve")])
    assert decisions.counts_by_node(store) == {}


def test_a_round_summary_written_again_replaces_the_first_but_round_zero_keeps_each(store):
    from state import decisions
    from state.decisions import Action, Node
    for n in (1, 2):  # a node re-run after a crash writes its round summary again
        decisions.record_one(store, 3, Node.EVOLVER, "round:3", Action.EVOLVE, f"run {n}", {"n": n})
        decisions.record_one(store, 0, Node.EVOLVER, "round:0", Action.EVOLVE, f"command {n}", {"n": n})
        decisions.record_one(store, 3, Node.EVOLVER, "conversation:7", Action.EVOLVE, "an item", {"n": n})
    assert decisions.evidence_of(store, Node.EVOLVER, Action.EVOLVE, "round:3") == [{"n": 2}]
    assert decisions.evidence_of(store, Node.EVOLVER, Action.EVOLVE, "round:0") == [{"n": 1}, {"n": 2}]
    assert len(decisions.evidence_of(store, Node.EVOLVER, Action.EVOLVE, "conversation:7")) == 2  # items are kept
