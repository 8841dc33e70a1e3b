"""Seeds and candidates: one writer of each status, unknown statuses refused before anything is written."""
import pytest

from state import candidates, seeds
from state.candidates import NewCandidate
from state.seeds import NewSeed
from tests.state.test_conversations import conv
from state.conversations import add_conversations


def test_seed_status_changes_in_one_place_and_refuses_unknown_values(store):
    ids = list(add_conversations(store, [conv("a"), conv("b")]).values())
    seeds.add_seeds(store, [NewSeed(i, 1, "criteria", ["hard"], {"base_loss": 1.0}) for i in ids])
    seeds.add_seeds(store, [NewSeed(ids[0], 2, "ila", ["ila"])])  # a conversation is a seed once
    pending = seeds.pending(store)
    assert [cid for _, cid, _ in pending] == ids and seeds.seed_conversation_ids(store) == set(ids)
    seeds.set_status(store, {pending[0][0]: ("evolved", 1), pending[1][0]: ("selected", 1)})
    assert seeds.pending(store) == [(pending[1][0], ids[1], 1)]
    with pytest.raises(ValueError, match="unknown seed status"):
        seeds.set_status(store, {pending[1][0]: ("done", None)})
    assert seeds.figures(store)["by_status"] == {"evolved": 1, "selected": 1}
    assert seeds.figures(store)["by_criterion"] == {"hard": 2}


def test_counts_by_criterion_count_a_seed_under_each_criterion_that_chose_it(store):
    ids = list(add_conversations(store, [conv("a"), conv("b"), conv("c")]).values())
    assert seeds.counts_by_criterion(store) == {}
    seeds.add_seeds(store, [NewSeed(ids[0], 1, "both", ["hard", "ila"]), NewSeed(ids[1], 1, "criteria", ["hard"])])
    seeds.add_seeds(store, [NewSeed(ids[2], 2, "ila", ["ila"]), NewSeed(ids[0], 2, "ila", ["ila"])])  # ids[0]: once
    assert seeds.counts_by_criterion(store) == {"hard": 2, "ila": 2}


def test_candidates_are_staged_pending_and_marked_once_checked(store):
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    candidates.stage(store, [NewCandidate(1, "evolved", None, "breadth", msgs, "h1", "en", {"rounds": 1})])
    (c,) = candidates.pending(store)
    assert c.messages == msgs and c.operation == "breadth"
    with pytest.raises(ValueError, match="unknown candidate status"):
        candidates.set_status(store, {c.id: ("maybe", None)})
    candidates.set_status(store, {c.id: ("leak", None)})
    assert candidates.pending(store) == [] and candidates.figures(store)["by_status"] == {"leak": 1}
