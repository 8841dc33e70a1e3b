"""The loss scorer on the real SmolLM2-135M: equal to a direct transformers computation, batch-invariant, cached;
bf16 ranks like fp32; a base-model folder without a chat template scores too."""
import json
import math
import shutil

import pytest
import torch
from scipy.stats import spearmanr
from transformers import AutoModelForCausalLM, AutoTokenizer

from settings.seeds import ScoringSettings
from state.db import Store
from state.models import Conversation
from tools.formats import content_hash
from tools.loss_scorer import LossScorer, ScorerError, encode_conversation, length_buckets, scorer_from_config
from tools.scoring import ifd, score_conversations

CONVS = [
    [{"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "The capital of France is Paris."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Add 2 and 3."},
     {"role": "assistant", "content": "5"}],
    [{"role": "user", "content": "Write a haiku about rain."},
     {"role": "assistant", "content": "Soft rain on the roof,\nthe gutters hum a low song,\nnight drinks the cold street."},
     {"role": "user", "content": "Now one about snow."},
     {"role": "assistant", "content": "White hush on the field,\nfootprints fill before dawn comes,\nthe world holds its breath."}],
    [{"role": "user", "content": "Explain recursion to a child in two sentences. " * 3},
     {"role": "assistant", "content": "Recursion is when something is defined using a smaller copy of itself. "
                                      "Like a doll that opens to show a smaller doll inside."}],
]


# Spearman's rho of bf16 against fp32 losses measured 0.9993 over 64 Alpaca conversations (128-token window;
# bench/bench_scoring.py --rank-dtype bfloat16). Emulated bf16 ran 13 tok/s on this AVX2 CPU, so the test ranks 32
# conversations in a 64-token window and asks for 0.95.
N_RANKED, WINDOW, MIN_RHO = 32, 64, 0.95


def direct_loss(model, tok, messages):
    """Reference: token prefixes of the template mark each assistant turn; HF's own labels= loss."""
    text = tok.apply_chat_template(messages, tokenize=False)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    labels = [-100] * len(ids)
    for k, m in enumerate(messages):
        if m["role"] == "assistant":
            a = len(tok(tok.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True),
                        add_special_tokens=False)["input_ids"])
            b = len(tok(tok.apply_chat_template(messages[:k + 1], tokenize=False), add_special_tokens=False)["input_ids"])
            labels[a:b] = ids[a:b]
    with torch.no_grad():
        return float(model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss)


@pytest.fixture(scope="module")
def scorer32(smol_folder):
    return LossScorer(smol_folder, ScoringSettings(dtype="float32", max_tokens=512), device="cpu")


def test_loss_equals_direct_transformers_computation(smol_folder, scorer32):
    model = AutoModelForCausalLM.from_pretrained(str(smol_folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(smol_folder))
    got = scorer32.losses(scorer32.encode(CONVS))
    for conv, r in zip(CONVS, got):
        assert r.loss == pytest.approx(direct_loss(model, tok, conv), abs=1e-4)
        assert not r.truncated
    # multi-turn: both assistant turns count, so there are more scored tokens than in either turn alone
    two = scorer32.encode([CONVS[2], CONVS[2][:2]])
    assert two[0].n_scored > two[1].n_scored > 0


def test_bucketing_does_not_change_results(smol_folder):
    alone = LossScorer(smol_folder, ScoringSettings(dtype="float32", batch_tokens=64, max_batch=1), device="cpu")
    packed = LossScorer(smol_folder, ScoringSettings(dtype="float32", batch_tokens=100_000, max_batch=16), device="cpu")
    a = [r.loss for r in alone.losses(alone.encode(CONVS))]
    b = [r.loss for r in packed.losses(packed.encode(CONVS))]
    assert packed.padding_share > 0  # the packed run really padded
    assert a == pytest.approx(b, abs=2e-4)


def alpaca(assets, n):
    from tools.formats import to_canonical
    records = json.loads((assets.path("alpaca") / "alpaca_en_demo.json").read_text(encoding="utf-8"))[:n]
    return [to_canonical(r).messages for r in records]


def test_bf16_ranks_conversations_like_fp32(assets, smol_folder):
    # bf16 ('auto' picks it where it is native) is used for ranking: what must hold is the order of the losses,
    # measured as Spearman's rho over real Alpaca conversations, not a mean difference
    convs = alpaca(assets, N_RANKED)
    fp32 = LossScorer(smol_folder, ScoringSettings(dtype="float32", max_tokens=WINDOW), device="cpu")
    bf16 = LossScorer(smol_folder, ScoringSettings(dtype="bfloat16", max_tokens=WINDOW), device="cpu")
    a = [r.loss for r in fp32.losses(fp32.encode(convs))]
    b = [r.loss for r in bf16.losses(bf16.encode(convs))]
    assert None not in a and None not in b and len(set(a)) == len(a)
    rho = spearmanr(a, b).statistic
    assert rho >= MIN_RHO, rho


def test_a_base_model_folder_without_chat_template_scores_in_the_plain_format(tmp_path, config, smol_folder):
    # the paper scores with a base model (Llama-2-7B); such folders ship no chat template
    base = tmp_path / "base-model"
    shutil.copytree(smol_folder, base)
    (base / "chat_template.jinja").unlink(missing_ok=True)
    tok_cfg = json.loads((base / "tokenizer_config.json").read_text())
    tok_cfg.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    assert not AutoTokenizer.from_pretrained(str(base)).chat_template
    cfg = config.model_copy(update={"scoring": config.scoring.model_copy(update={"model": str(base),
                                                                                  "dtype": "float32"})})
    scorer = scorer_from_config(cfg, None)  # a folder path needs no packaged asset
    assert scorer.folder == base and scorer.key.startswith(str(base))
    enc = scorer.encode(CONVS)
    scored = scorer.tokenizer.decode([t for t, s in zip(enc[2].ids, enc[2].scored) if s])
    # exactly the two answers and their end-of-text tokens are scored, not the instructions or headers
    assert "Soft rain on the roof" in scored and "White hush" in scored
    assert "haiku" not in scored and "### Instruction" not in scored and "### Response" not in scored
    losses = scorer.losses(enc)
    assert all(r.loss is not None and r.loss > 0 for r in losses)


def test_length_buckets_respect_the_token_budget():
    lengths = [5, 50, 7, 48, 6, 51, 300]
    batches = length_buckets(lengths, batch_tokens=120, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 120
        assert len(b) <= 3
    # by length: 0 (5), 4 (6), 2 (7) fill a batch of max_batch 3; 3 (48) and 1 (50) fit 2 x 50 <= 120 but not a
    # third of 51; 5 (51) and 6 (300) cannot share (2 x 300 > 120)
    assert batches == [[0, 4, 2], [3, 1], [5], [6]]


def test_long_query_keeps_a_window_with_response_tokens(scorer32):
    conv = [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "A short answer here."}]
    enc = scorer32.encode([conv], max_tokens=64)[0]
    assert enc.truncated and len(enc.ids) == 64 and enc.n_scored > 0
    no_reply = scorer32.losses(scorer32.encode([[{"role": "user", "content": "hi"}]]))[0]
    assert no_reply.loss is None and no_reply.n_tokens == 0


def test_prefix_unstable_template_is_a_clear_error():
    class Tok:  # a template that rewrites earlier turns once the conversation grows
        def apply_chat_template(self, msgs, tokenize=False, add_generation_prompt=False):
            return f"[{len(msgs)}]" + "".join(m["content"] for m in msgs)
    with pytest.raises(ScorerError, match="prefix"):
        encode_conversation(Tok(), CONVS[0], 100)


def test_store_scoring_is_cached_and_gives_ifd(tmp_path, smol_folder, scorer32):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with store.session() as s:
        for k, conv in enumerate(CONVS):
            s.add(Conversation(content_hash=content_hash(conv), messages=json.dumps(conv), source="t", lang="en",
                               n_turns=1, n_chars=10))
        s.commit()
    ids = list(range(1, len(CONVS) + 1))
    first = score_conversations(store, scorer32, ids, kinds=("cond", "resp"), show_progress=False)
    calls = []
    scorer32_losses = scorer32.losses
    scorer32.losses = lambda *a, **k: calls.append(1) or scorer32_losses(*a, **k)
    try:
        second = score_conversations(store, scorer32, ids, kinds=("cond", "resp"), show_progress=False)
    finally:
        scorer32.losses = scorer32_losses
    assert calls == []  # everything came from SQL
    assert {i: r.loss for i, r in second["cond"].items()} == pytest.approx({i: r.loss for i, r in first["cond"].items()})
    for i in (1, 3, 4):
        value = ifd(first["cond"][i], first["resp"][i])
        assert value is not None and math.isfinite(value) and value > 0
    # a one-token reply ("5") has no token to score without its query: IFD is undefined, not 0 or infinite
    assert first["resp"][2].loss is None and ifd(first["cond"][2], first["resp"][2]) is None
    # the response alone is harder to predict than the response given its question, for the factual answer
    assert ifd(first["cond"][1], first["resp"][1]) < 1.0


def test_auto_dtype_is_bf16_only_where_it_is_native(smol_folder):
    from tools.loss_scorer import native_bf16, resolve_dtype

    assert resolve_dtype("float16", "cpu") == "float16" and resolve_dtype("bfloat16", "cpu") == "bfloat16"
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("auto", "cpu") == ("bfloat16" if native_bf16("cpu") else "float32")
    auto = LossScorer(smol_folder, ScoringSettings(), device="cpu")
    assert auto.dtype == resolve_dtype("auto", "cpu") and f":{auto.dtype}:" in auto.key  # caches never mix dtypes
