"""The held-out diagnosis split on a real SQLite store: stratified, fresh every round, never evolved."""
from state import diagnosis, seeds
from state.conversations import NewConversation, add_conversations
from state.seeds import NewSeed
from tools.diagnosis_set import allocate, draw, hold_out_round
from tools.formats import content_hash


def test_allocation_is_proportional_and_respects_what_each_stratum_has():
    got = allocate({("a", "x"): 6, ("b", "x"): 3, ("c", "y"): 1}, {("a", "x"): 10, ("b", "x"): 1, ("c", "y"): 5}, 6)
    assert got == {("a", "x"): 4, ("b", "x"): 1, ("c", "y"): 1}  # b has 1 to give; its share goes to the others
    assert sum(allocate({("a", ""): 1}, {("a", ""): 2}, 9).values()) == 2


def _store_with_seeds(store, n, criteria=("long_tail", "multi_skill")):
    msgs = [[{"role": "user", "content": f"question {k}"}, {"role": "assistant", "content": f"answer {k}"}]
            for k in range(n)]
    ids = add_conversations(store, [NewConversation(m, content_hash(m), "t", "en") for m in msgs])
    seeds.add_seeds(store, [NewSeed(cid, 1, "criteria", [criteria[k % len(criteria)]])
                            for k, cid in enumerate(ids.values())])
    return sorted(ids.values())


def test_a_round_holds_out_never_evolved_seeds_by_criterion_and_they_leave_evolution(store):
    _store_with_seeds(store, 12)
    first = draw(store, 4, 1, seed=0)
    assert len(first) == 4 and sorted(h.criterion for h in first) == ["long_tail"] * 2 + ["multi_skill"] * 2
    held = {h.conversation_id for h in first}
    assert diagnosis.held_out_ids(store) == held
    assert not held & {cid for _, cid, _ in seeds.pending(store)}  # the evolver never sees them
    second = draw(store, 4, 2, seed=0)
    assert not held & {h.conversation_id for h in second}  # fresh: round 2 gets other items
    assert {r.round for r in diagnosis.items(store)} == {1, 2} and len(diagnosis.items(store, 2)) == 4


def test_max_share_keeps_seeds_to_evolve_and_a_round_draws_once(config, store):
    _store_with_seeds(store, 3)
    cfg = config.model_copy(update={"diagnosis": config.diagnosis.model_copy(update={"sample_size": 10})})
    assert len(draw(store, 10, 1, seed=0, max_share=0.5)) == 1
    from state.decisions import Node
    assert hold_out_round(store, cfg, 1, Node.SEED_SELECTOR) == 0  # round 1 already drew
    assert hold_out_round(store, cfg, 2, Node.SEED_SELECTOR) == 1  # half of the 2 left
