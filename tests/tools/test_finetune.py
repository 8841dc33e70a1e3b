"""The quick LoRA fine-tune on the real SmolLM2-135M: it lowers the loss of what it trained on, and its steps
cover the subset it is said to be trained on."""
import json
import logging
from collections import Counter


from settings.seeds import FinetuneSettings, ScoringSettings
from state.db import Store
from state.models import Conversation
from tools.finetune import balanced_subset, finetune, latest_adapter, needs_refresh, plan_batches, planned_steps
from tools.formats import content_hash
from tools.loss_scorer import LossScorer
from tools.scoring import score_conversations

FACTS = [("What colour is the zorblat fruit?", "The zorblat fruit is bright teal with orange stripes."),
         ("Who founded the town of Quillmere?", "Quillmere was founded by the weaver Anselm Dray in 1712."),
         ("How many legs does a vexid have?", "A vexid has eleven legs, arranged in a spiral."),
         ("What is the capital of Norvania?", "The capital of Norvania is Tellisport, on the eastern shore."),
         ("What does a glimmerbat eat?", "Glimmerbats eat only the pollen of night-blooming moss."),
         ("When is the Festival of Urns?", "The Festival of Urns falls on the third new moon of autumn.")]


def test_balanced_subset_takes_n_per_domain_reproducibly():
    domain_of = {i: ("a" if i < 50 else "b" if i < 53 else "c") for i in range(60)}
    sub = balanced_subset(domain_of, 5, seed=1)
    assert {d: len(v) for d, v in sub.items()} == {"a": 5, "b": 3, "c": 5}
    assert sub == balanced_subset(domain_of, 5, seed=1)
    assert sub["a"] != balanced_subset(domain_of, 5, seed=2)["a"]
    assert all(domain_of[i] == d for d, ids in sub.items() for i in ids)


def test_steps_follow_epochs_times_subset_over_batch():
    s = FinetuneSettings(batch_size=4)  # defaults: one epoch, no cap
    plan = plan_batches(1000, s, seed=0)
    assert len(plan) == planned_steps(1000, s) == 250  # the paper's 1,000 per domain, one domain
    assert sorted(k for b in plan for k in b) == list(range(1000))  # every conversation exactly once
    three = plan_batches(10, s.model_copy(update={"epochs": 3}), seed=0)
    assert [len(b) for b in three] == [4, 4, 2] * 3 and Counter(k for b in three for k in b) == {k: 3 for k in range(10)}
    assert three[:3] != three[3:6]  # each pass is shuffled anew
    capped = plan_batches(1000, s.model_copy(update={"steps": 30}), seed=0)
    assert len(capped) == planned_steps(1000, s.model_copy(update={"steps": 30})) == 30
    assert len({k for b in capped for k in b}) == 120  # the old default: 30 steps x 4 saw 120 of 1,000


def test_finetune_lowers_the_loss_of_its_training_items(tmp_path, smol_folder, caplog):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    convs = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in FACTS]
    with store.session() as s:
        for c in convs:
            s.add(Conversation(content_hash=content_hash(c), messages=json.dumps(c), source="t", lang="en"))
        s.commit()
    ids = list(range(1, len(convs) + 1))
    base = LossScorer(smol_folder, ScoringSettings(), device="cpu", name="smollm2-135m")
    settings = FinetuneSettings(epochs=5, batch_size=3, learning_rate=2e-3, per_domain=3)
    domain_of = {i: "trivia" if i % 2 else "geography" for i in ids}
    adapter = finetune(store, base, domain_of, settings, tmp_path / "home", seed=0)
    assert adapter.card["domains"] == {"geography": 3, "trivia": 3}
    assert adapter.card["steps"] == 10 and adapter.card["seen_conversations"] == 6  # 5 epochs x 6 / 3
    assert adapter.card["train_loss_last"] < adapter.card["train_loss_first"]
    assert latest_adapter(tmp_path / "home").fingerprint == adapter.fingerprint

    tuned = LossScorer(smol_folder, ScoringSettings(), device="cpu", adapter=adapter.path, name="smollm2-135m")
    assert tuned.key != base.key  # cached base and fine-tuned losses never mix
    before = score_conversations(store, base, ids, show_progress=False)["cond"]
    after = score_conversations(store, tuned, ids, show_progress=False)["cond"]
    reduction = [before[i].loss - after[i].loss for i in ids]
    assert sum(reduction) / len(ids) > 0.3, reduction
    assert all(r > 0 for r in reduction)

    # the same data and settings reuse the adapter; a changed domain set asks for a new one
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tools.finetune"):
        again = finetune(store, base, domain_of, settings, tmp_path / "home", seed=0)
    assert "fine-tuning" not in caplog.text, caplog.text
    assert again.path == adapter.path
    assert needs_refresh(adapter, domain_of, settings, "smollm2-135m") == ""
    assert "domain" in needs_refresh(adapter, {**domain_of, 99: "poetry"}, settings, "smollm2-135m")
    assert "model changed" in needs_refresh(adapter, domain_of, settings, "qwen2.5-coder-0.5b")
    assert needs_refresh(None, domain_of, settings, "x") == "no fine-tuned model yet"
    assert "steps" in needs_refresh(adapter, domain_of, settings.model_copy(update={"steps": 20}), "smollm2-135m")
    assert "epochs" in needs_refresh(adapter, domain_of, settings.model_copy(update={"epochs": 2}), "smollm2-135m")

    # a cap below the subset trains on part of it, says so in the log, and the card counts what it saw
    with caplog.at_level(logging.WARNING, logger="tools.finetune"):
        short = finetune(store, base, domain_of, settings.model_copy(update={"steps": 1}), tmp_path / "home", seed=0)
    assert short.card["steps"] == 1 and short.card["seen_conversations"] == 3 and "cuts training short" in caplog.text
