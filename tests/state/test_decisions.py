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
