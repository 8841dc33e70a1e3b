"""M_FT answers the diagnosis queries: transformers ``generate`` on the scoring model with the LoRA adapter merged.

Why this path: the adapter is already a transformers/peft artefact and the scorer already loads it merged
(tools/loss_scorer.py), so no conversion step stands between a fresh M_FT and its answers; serving it through the
embedded llama.cpp server would need a GGUF re-export per adapter. Queries are sorted by length and answered in
left-padded batches (``diagnosis.answer_batch``) with greedy decoding, so the answers are reproducible.
"""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Answer:
    text: str
    tokens: int
    truncated: bool  # stopped at max_new_tokens


def query_of(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    """(the messages up to the first assistant turn, that turn's text: the reference)."""
    for k, m in enumerate(messages):
        if m["role"] == "assistant":
            return messages[:k], m["content"]
    return messages, ""


class MFTAnswerer:
    """Generates with an already loaded scorer (``LossScorer`` with its adapter): its tokenizer and merged model."""

    def __init__(self, scorer, settings) -> None:
        self.scorer, self.settings = scorer, settings
        self.tokens_per_s = 0.0
        self.seconds = 0.0

    def _template(self, messages: list[dict[str, str]]) -> list[int]:
        ids = self.scorer.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)  # newer tokenizers return a BatchEncoding

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """The query's tokens; a query over prompt_max_tokens keeps the start of its last turn (and the template's
        framing and generation prompt, without which the model would not answer)."""
        tok, cap = self.scorer.tokenizer, self.settings.prompt_max_tokens
        ids = self._template(messages)
        if len(ids) <= cap:
            return ids
        text_ids = tok(messages[-1]["content"], add_special_tokens=False)["input_ids"]
        room = cap - (len(ids) - len(text_ids)) - 4
        if room < 16:
            return ids[-cap:]
        cut = messages[:-1] + [{"role": messages[-1]["role"], "content": tok.decode(text_ids[:room]) + " [...]"}]
        return self._template(cut)

    def _stop_ids(self) -> list[int]:
        tok = self.scorer.tokenizer
        ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
        for name in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            tid = tok.convert_tokens_to_ids(name)
            if isinstance(tid, int) and tid != tok.unk_token_id and tid >= 0:
                ids.add(tid)
        return sorted(ids)

    def answer(self, queries: list[list[dict[str, str]]]) -> list[Answer]:
        import torch

        model, tok = self.scorer.model, self.scorer.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        stops, limit = self._stop_ids(), self.settings.answer_max_tokens
        prompts = [self._prompt_ids(q) for q in queries]
        order = sorted(range(len(prompts)), key=lambda k: len(prompts[k]))
        out: list[Answer | None] = [None] * len(prompts)
        from tqdm import tqdm

        generated, start = 0, time.perf_counter()
        bar = tqdm(total=len(order), desc="M_FT answers", unit="answer", mininterval=2, leave=False)
        for b in range(0, len(order), self.settings.answer_batch):
            idx = order[b:b + self.settings.answer_batch]
            width = max(len(prompts[k]) for k in idx)
            ids = torch.tensor([[pad] * (width - len(prompts[k])) + prompts[k] for k in idx])
            attn = torch.tensor([[0] * (width - len(prompts[k])) + [1] * len(prompts[k]) for k in idx])
            with torch.no_grad():
                seqs = model.generate(input_ids=ids.to(self.scorer.device), attention_mask=attn.to(self.scorer.device),
                                      max_new_tokens=limit, do_sample=False, eos_token_id=stops, pad_token_id=pad)
            for row, k in enumerate(idx):
                new = seqs[row, width:].tolist()
                end = next((j for j, t in enumerate(new) if t in stops), None)
                body = new if end is None else new[:end]
                generated += len(body)
                out[k] = Answer(tok.decode(body, skip_special_tokens=True).strip(), len(body), end is None)
            bar.update(len(idx))
        bar.close()
        self.seconds = time.perf_counter() - start
        self.tokens_per_s = generated / self.seconds if self.seconds > 0 else 0.0
        return out  # type: ignore[return-value]
