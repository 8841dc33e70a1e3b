"""Token-level mean cross-entropy of responses under a causal LM (the paper's loss; IFD; depth).

``loss(response | query)``: the model's chat template renders the whole conversation and only the tokens of the
assistant turns (content and end-of-turn marker, every assistant turn of a multi-turn dialogue) are scored.
``loss(response)``: the assistant contents alone, joined by blank lines, every token after the first scored (the
IFD denominator, as in the authors' README). Batches are bucketed by length; logits are computed only at scored
positions, so a 150k vocabulary does not cost batch x length x vocab memory.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from state.losses import LossResult

SCORER_VERSION = "1"

# A base model (the paper scores with Llama-2-7B base) ships no chat template. Such a tokenizer renders
# conversations in this plain instruction format (Alpaca-style headers, the end-of-text token after each answer):
# prefix-stable, so the response tokens are located exactly as with a chat model's own template.
PLAIN_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}")


class ScorerError(RuntimeError):
    """The scoring model cannot be loaded or cannot score this input; the message says which and why."""


@dataclass
class Encoded:
    ids: list[int]
    scored: list[bool]  # scored[j]: token j is a response token whose loss counts (j >= 1)
    truncated: bool = False

    @property
    def n_scored(self) -> int:
        return sum(self.scored[1:])


def _window(enc: Encoded, max_tokens: int) -> Encoded:
    if len(enc.ids) <= max_tokens:
        return enc
    first = next((j for j, s in enumerate(enc.scored) if s), 0)
    start = max(0, min(first - max_tokens // 2, len(enc.ids) - max_tokens))
    return Encoded(enc.ids[start:start + max_tokens], enc.scored[start:start + max_tokens], True)


def encode_conversation(tok, messages: list[dict[str, str]], max_tokens: int) -> Encoded:
    """Template-rendered ids with the assistant turns marked; raises ScorerError if the template is not prefix-stable."""
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    full = tok.apply_chat_template(messages, tokenize=False)
    spans = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = tok.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True) if k else ""
        upto = tok.apply_chat_template(messages[:k + 1], tokenize=False)
        if not (full.startswith(upto) and upto.startswith(before)):
            raise ScorerError("the model's chat template renders a conversation prefix differently from the whole "
                              "conversation, so response tokens cannot be located; use another scoring model")
        spans.append((len(before), len(upto)))
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    scored = [any(a <= s < b for a, b in spans) and e > s for s, e in enc["offset_mapping"]]
    return _window(Encoded(list(enc["input_ids"]), scored), max_tokens)


def encode_response(tok, messages: list[dict[str, str]], max_tokens: int) -> Encoded:
    text = "\n\n".join(m["content"] for m in messages if m["role"] == "assistant")
    ids = list(tok(text, add_special_tokens=True)["input_ids"])
    enc = Encoded(ids, [False] + [True] * (len(ids) - 1))
    if len(ids) > max_tokens:
        enc = Encoded(ids[:max_tokens], enc.scored[:max_tokens], True)
    return enc


def length_buckets(lengths: Sequence[int], batch_tokens: int, max_batch: int) -> list[list[int]]:
    """Index batches of similar length whose padded size (rows x longest) stays within batch_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * lengths[i] > batch_tokens or len(cur) >= max_batch:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def pad_batch(batch: Sequence[Encoded], pad_id: int | None):
    """Right-padded (ids, attention mask, scored mask) tensors of one batch."""
    import torch
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id if pad_id is not None else 0, dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    scored = torch.zeros((len(batch), width), dtype=torch.bool)
    for r, e in enumerate(batch):
        ids[r, :len(e.ids)] = torch.tensor(e.ids)
        attn[r, :len(e.ids)] = 1
        scored[r, :len(e.ids)] = torch.tensor(e.scored, dtype=torch.bool)
    return ids, attn, scored


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ScorerError("device 'cuda' was asked for but torch sees no CUDA device")
    return device


def native_bf16(device: str) -> bool:
    """Whether bf16 matmuls run natively: CUDA, or a CPU with AVX512-BF16 or AMX. Elsewhere torch emulates bf16,
    which measured 40x slower than fp32 for a LoRA step (AMD EPYC with AVX2, docs/seeds.md)."""
    import torch
    if device.startswith("cuda"):
        return True
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        try:
            if getattr(torch.cpu, probe)():
                return True
        except (AttributeError, RuntimeError):  # private probes: absent in some torch builds
            pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' -> bfloat16 where it is native (about 3x fp32 there), else float32; explicit choices stay."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if native_bf16(device) else "float32"


def model_folder(name: str, assets) -> Path:
    from tools.assets import ASSETS
    from tools.hf_convert import ensure_hf_folder
    if name in ASSETS:
        return ensure_hf_folder(assets, name)
    path = Path(name).expanduser()
    if not (path / "config.json").exists():
        raise ScorerError(f"scoring model {name!r} is neither a packaged asset ({', '.join(ASSETS)}) nor a Hugging "
                          f"Face folder with a config.json")
    return path


class LossScorer:
    """Loads the model once; ``losses`` scores any number of conversations in length-bucketed batches."""

    def __init__(self, folder: Path, settings, device: str = "auto", adapter: Path | None = None,
                 name: str | None = None) -> None:
        self.folder, self.settings, self.adapter = Path(folder), settings, adapter
        self.name = name or self.folder.name
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(getattr(settings, "dtype", "auto"), self.device)
        self.tokens_per_s = 0.0
        self.padding_share = 0.0
        self._model = self._tok = None
        self._full_logits = False

    @property
    def key(self) -> str:
        """Cache key: everything that changes a loss value."""
        parts = [self.name, f"w{self.settings.max_tokens}", self.dtype, f"v{SCORER_VERSION}"]
        if self.adapter is not None:
            meta = json.loads((Path(self.adapter) / "iloop-adapter.json").read_text())
            parts.append(f"lora-{meta['fingerprint']}")
        return ":".join(parts)[:200]

    @property
    def tokenizer(self):
        if self._tok is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoTokenizer
            tok = AutoTokenizer.from_pretrained(str(self.folder))
            if not getattr(tok, "chat_template", None):
                tok.chat_template = PLAIN_TEMPLATE
            self._tok = tok
        return self._tok

    @property
    def model(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained(str(self.folder), dtype=getattr(torch, self.dtype))
            if self.adapter is not None:
                try:
                    from peft import PeftModel
                except ImportError as exc:
                    raise ScorerError("scoring with a LoRA adapter needs peft: pip install 'instruct-loop[finetune]'"
                                      ) from exc
                model = PeftModel.from_pretrained(model, str(self.adapter)).merge_and_unload()
            self._model = model.to(self.device).eval()
            self._full_logits = not self._head_matches()
        return self._model

    def _head_matches(self) -> bool:
        # Scoring computes logits only at scored positions via decoder + output head. Architectures that post-process
        # logits (soft-capping, scaling) would differ; one tiny forward decides, and the full forward is the fallback.
        import torch
        ids = torch.tensor([self.tokenizer("a short check", add_special_tokens=False)["input_ids"]], device=self.device)
        with torch.no_grad():
            full = self._model(input_ids=ids).logits.float()
            try:
                head = self._model.get_output_embeddings()(self._model.get_decoder()(input_ids=ids).last_hidden_state)
            except (AttributeError, TypeError, NotImplementedError):
                return False
        return bool(torch.allclose(full, head.float(), atol=1e-3, rtol=1e-3))

    def encode(self, conversations: Sequence[list[dict]], kind: str = "cond", max_tokens: int | None = None
               ) -> list[Encoded]:
        fn = encode_conversation if kind == "cond" else encode_response
        return [fn(self.tokenizer, c, max_tokens or self.settings.max_tokens) for c in conversations]

    def _batch(self, batch: list[Encoded]) -> list[tuple[float, int]]:
        import torch
        import torch.nn.functional as F
        ids, attn, target = pad_batch(batch, self.tokenizer.pad_token_id)
        target[:, 0] = False  # the first token has no context to be predicted from
        ids, attn, target = ids.to(self.device), attn.to(self.device), target.to(self.device)
        rows, cols = target.nonzero(as_tuple=True)
        with torch.no_grad():
            if self._full_logits:
                logits = self.model(input_ids=ids, attention_mask=attn).logits[rows, cols - 1].float()
            else:
                hidden = self.model.get_decoder()(input_ids=ids, attention_mask=attn).last_hidden_state
                logits = self.model.get_output_embeddings()(hidden[rows, cols - 1]).float()
            ce = F.cross_entropy(logits, ids[rows, cols], reduction="none")
        sums = torch.zeros(len(batch), dtype=torch.float64, device=ce.device).index_add_(0, rows, ce.double())
        counts = target.sum(dim=1)
        return [(float(s), int(n)) for s, n in zip(sums.cpu(), counts.cpu())]

    def losses(self, encoded: Sequence[Encoded], progress: Callable[[int], None] | None = None) -> list[LossResult]:
        """Mean response cross-entropy per conversation, in input order."""
        self.model  # load before timing
        out: list[LossResult | None] = [None] * len(encoded)
        lengths = [len(e.ids) for e in encoded]
        real = padded = 0
        start = time.perf_counter()
        for idx in length_buckets(lengths, self.settings.batch_tokens, self.settings.max_batch):
            batch = [encoded[i] for i in idx]
            todo = [k for k, e in enumerate(batch) if e.n_scored > 0]
            results = self._batch([batch[k] for k in todo]) if todo else []
            for k, (s, n) in zip(todo, results):
                out[idx[k]] = LossResult(s / n, n, batch[k].truncated)
            for k, e in enumerate(batch):
                if out[idx[k]] is None:
                    out[idx[k]] = LossResult(None, 0, e.truncated)
            if todo:
                width = max(lengths[idx[k]] for k in todo)
                real += sum(lengths[idx[k]] for k in todo)
                padded += width * len(todo)
            if progress:
                progress(sum(lengths[i] for i in idx))
        elapsed = time.perf_counter() - start
        self.tokens_per_s = real / elapsed if elapsed > 0 else 0.0
        self.padding_share = 1 - real / padded if padded else 0.0
        return out  # type: ignore[return-value]


def scorer_from_config(cfg, assets, adapter: Path | None = None) -> LossScorer:
    folder = model_folder(cfg.scoring.model, assets)
    return LossScorer(folder, cfg.scoring, device=cfg.device, adapter=adapter, name=cfg.scoring.model)
