"""Quick LoRA fine-tune of the scoring model on a domain-balanced subset (the paper's M_FT).

Loss reduction = base loss - fine-tuned loss; the hard-to-follow criterion keeps the conversations whose loss the
fine-tune reduced least. Training runs ``finetune.epochs`` passes over the subset (ceil(subset / batch) steps each),
so M_FT sees every conversation it is said to be trained on; ``finetune.steps`` only caps that, and the card says
how many distinct conversations the steps reached. The adapter and a JSON card (base model, training ids'
fingerprint, settings, steps, losses) go under ``<home>/adapters/``; ``adapters/latest`` names the newest.
Diagnosis (M_FT answering) reuses them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools.loss_scorer import LossScorer, encode_conversation, pad_batch
from state.conversations import load_messages

NO_DOMAIN = "(no domain)"

logger = logging.getLogger(__name__)


class FinetuneError(RuntimeError):
    """The fine-tune cannot run; the message says why and what to do."""


@dataclass
class Adapter:
    path: Path
    card: dict

    @property
    def fingerprint(self) -> str:
        return self.card["fingerprint"]


def balanced_subset(domain_of: dict[int, str], per_domain: int, seed: int) -> dict[str, list[int]]:
    """Up to ``per_domain`` conversation ids per domain, a seeded sample; domain -> sorted ids."""
    groups: dict[str, list[int]] = defaultdict(list)
    for cid, dom in sorted(domain_of.items()):
        groups[dom].append(cid)
    rng = random.Random(seed)
    return {d: sorted(ids if len(ids) <= per_domain else rng.sample(ids, per_domain)) for d, ids in sorted(groups.items())}


def adapters_dir(home: Path) -> Path:
    return Path(home) / "adapters"


def adapter_card(home: Path, fingerprint: str) -> dict | None:
    """The card of the adapter with this fingerprint (what it trained on: ``train_ids``), None when absent."""
    card = adapters_dir(home) / f"mft-{fingerprint}" / "iloop-adapter.json"
    return json.loads(card.read_text()) if card.exists() else None


def latest_adapter(home: Path, pointer_name: str = "latest") -> Adapter | None:
    """The adapter a pointer file names: ``latest`` is the selector's M_FT, ``diagnosis`` the diagnoser's."""
    pointer = adapters_dir(home) / pointer_name
    if not pointer.exists():
        return None
    path = adapters_dir(home) / pointer.read_text().strip()
    card = path / "iloop-adapter.json"
    if not card.exists():
        return None
    return Adapter(path, json.loads(card.read_text()))


def _fingerprint(base: str, hashes: list[str], settings: dict) -> str:
    blob = json.dumps({"base": base, "data": sorted(hashes), "settings": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_batches(n: int, settings, seed: int) -> list[list[int]]:
    """Index batches: ``epochs`` shuffled passes over n items in batches of ``batch_size`` (the last one of a pass
    may be short), cut to ``steps`` when that cap is set."""
    rng, batches = random.Random(seed), []
    for _ in range(settings.epochs):
        order = rng.sample(range(n), n)
        batches += [order[k:k + settings.batch_size] for k in range(0, n, settings.batch_size)]
    return batches[:settings.steps] if settings.steps else batches


def planned_steps(n: int, settings) -> int:
    steps = settings.epochs * math.ceil(n / settings.batch_size)
    return min(steps, settings.steps) if settings.steps else steps


def train_lora(scorer: LossScorer, conversations: list[list[dict]], settings, seed: int, out_dir: Path,
               ) -> tuple[list[float], int]:
    """LoRA on every linear layer of the scorer's base model; returns the training loss of every step and how many
    distinct conversations the steps trained on."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise FinetuneError("the quick fine-tune needs peft: pip install 'instruct-loop[finetune]'") from exc
    import torch
    from transformers import AutoModelForCausalLM

    encoded = [e for e in (encode_conversation(scorer.tokenizer, c, settings.max_tokens) for c in conversations)
               if e.n_scored > 0]
    if not encoded:
        raise FinetuneError("no training conversation has a response token to learn from")
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(scorer.folder), dtype=getattr(torch, scorer.dtype))
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(base, lora).to(scorer.device)  # adapters are kept in fp32 by peft
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    plan = plan_batches(len(encoded), settings, seed)
    if len(plan) < settings.epochs * math.ceil(len(encoded) / settings.batch_size):
        logger.warning("finetune.steps=%d cuts training short of %d epoch(s) over %d conversations; M_FT will not "
                       "see all of them (shrink finetune.per_domain instead)", settings.steps, settings.epochs,
                       len(encoded))
    from tqdm import tqdm

    losses, start = [], time.perf_counter()
    for step, rows in enumerate(tqdm(plan, desc="finetune", unit="step", mininterval=2, leave=False)):
        batch = [encoded[k] for k in rows]
        ids, attn, scored = pad_batch(batch, scorer.tokenizer.pad_token_id)
        labels = ids.masked_fill(~scored, -100)
        out = model(input_ids=ids.to(scorer.device), attention_mask=attn.to(scorer.device),
                    labels=labels.to(scorer.device))
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(out.loss.detach()))
        if step == 0 or (step + 1) % 10 == 0 or step + 1 == len(plan):
            logger.info("finetune step %d/%d: loss %.4f (%.1f s/step)", step + 1, len(plan), losses[-1],
                        (time.perf_counter() - start) / (step + 1))
    model.save_pretrained(str(out_dir))
    return losses, len({k for rows in plan for k in rows})


def finetune(store, scorer: LossScorer, domain_of: dict[int, str], settings, home: Path, seed: int,
             extra_ids: list[int] | None = None, pointer: str = "latest") -> Adapter:
    """Train M_FT on N conversations per domain (``domain_of``: conversation id -> domain) plus every one of
    ``extra_ids`` (the diagnoser's generated items), save the adapter and point ``pointer`` at it."""
    seed = settings.seed if settings.seed is not None else seed
    subset = balanced_subset(domain_of, settings.per_domain, seed)
    ids = [i for group in subset.values() for i in group]
    extra = sorted(set(extra_ids or ()) - set(ids))
    ids += extra
    if not ids:
        raise FinetuneError("no conversations to fine-tune on: ingest a pool (and tag it for balance) first")
    convs = load_messages(store, ids)
    hashes = [convs[i][0] for i in ids]
    knobs = settings.model_dump(exclude={"refresh_growth"}) | {"seed": seed}
    fp = _fingerprint(scorer.name, hashes, knobs)
    path = adapters_dir(home) / f"mft-{fp}"  # adapter_card reads this layout
    card_path = path / "iloop-adapter.json"
    if not card_path.exists():
        logger.info(f"fine-tuning {scorer.name} (LoRA r{settings.lora_r}) on {len(ids)} conversations from "
                    f"{len(subset)} domains, {planned_steps(len(ids), settings)} steps")
        tmp = path.with_name(path.name + ".tmp")
        losses, seen = train_lora(scorer, [convs[i][1] for i in ids], settings, seed, tmp)
        card = {"fingerprint": fp, "base": scorer.name, "base_folder": str(scorer.folder), "seed": seed,
                "settings": knobs, "domains": {d: len(g) for d, g in subset.items()}, "conversations": len(ids),
                "extra_conversations": len(extra), "steps": len(losses), "seen_conversations": seen,
                "train_loss_first": losses[0], "train_loss_last": losses[-1],
                "train_ids": ids, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (tmp / "iloop-adapter.json").write_text(json.dumps(card, indent=1))
        if path.exists():
            import shutil
            shutil.rmtree(path)
        tmp.replace(path)
    (adapters_dir(home) / pointer).write_text(path.name)
    return Adapter(path, json.loads(card_path.read_text()))


def needs_refresh(adapter: Adapter | None, domain_of: dict[int, str], settings, base: str) -> str:
    """Why a new M_FT is needed ('' = the latest one still fits)."""
    if adapter is None:
        return "no fine-tuned model yet"
    if adapter.card.get("base") != base:
        return f"scoring model changed ({adapter.card.get('base')} -> {base})"
    knobs = settings.model_dump(exclude={"refresh_growth", "seed"})
    trained_with = {k: v for k, v in adapter.card.get("settings", {}).items() if k in knobs}
    if trained_with != knobs:
        changed = sorted(k for k in knobs if trained_with.get(k) != knobs[k])
        return f"fine-tune settings changed: {', '.join(changed)}"
    domains = set(domain_of.values())
    if set(adapter.card.get("domains", {})) != domains:
        return "the domain categories changed"
    size = sum(min(settings.per_domain, n) for n in Counter(domain_of.values()).values())
    trained = adapter.card.get("conversations", 0) - adapter.card.get("extra_conversations", 0)
    if trained and (size - trained) / trained > settings.refresh_growth:
        return f"the balanced subset would grow from {trained} to {size}"
    return ""

