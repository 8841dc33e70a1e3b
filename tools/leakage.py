"""Benchmark-leakage detection: benchmark prompts in their own Chroma collection, and the two-stage test.

Stage 1 (semantic): every user turn of an item is compared with its ``top_k`` nearest benchmark prompts by
embedding cosine; at or above ``remove_threshold`` the item is a leak. Stage 2 (structural), for pairs in the band
[``band_low``, ``remove_threshold``): the share of the benchmark prompt's word n-grams (character n-grams for
Chinese) found in the turn; at or above ``ngram_threshold`` it is a leak; otherwise, when ``llm_check`` is on, the
judge role decides. Both cosine cuts are presets per embedding model (``leakage.bands``, resolved by
``LeakageSettings.for_model``). Several embedders (``leakage.models``) each decide with their own cuts and
``combine`` joins their verdicts: removed when any removes, a band pair when any has one and none removes. The
calibration behind the defaults is in docs/leakage.md.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from settings import LeakageSettings
from tools.jsonstream import RecordError, iter_records
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

BUILTIN = {"mt-bench": "mt-bench", "alpaca-eval": "alpaca-eval", "ifeval": "ifeval"}
# In this order; the first key present with text wins (docs/leakage.md).
PROMPT_KEYS = ("prompt", "instruction", "question", "query", "turns", "messages", "conversations", "text",
               "content", "input")


class BenchFileError(ValueError):
    """A benchmark file cannot be read as prompts; names the file and the records."""


@dataclass(frozen=True)
class BenchPrompt:
    benchmark: str
    ref: str
    text: str

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.benchmark}\x00{self.ref}\x00{self.text}".encode()).hexdigest()[:32]


def _user_turns(items: list, key: str) -> list[str]:
    role_key, text_key = ("from", "value") if key == "conversations" else ("role", "content")
    return [str(m.get(text_key, "")) for m in items if isinstance(m, dict)
            and str(m.get(role_key, "")).lower() in ("user", "human")]


def prompts_of(record) -> list[str]:
    """The prompt texts of one benchmark record (a string, or an object with a prompt-like field)."""
    if isinstance(record, str):
        return [record]
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a string or an object, got {type(record).__name__}")
    for key in PROMPT_KEYS:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            extra = record.get("input") if key == "instruction" else None  # Alpaca keeps the input apart
            return [f"{value}\n\n{extra}" if isinstance(extra, str) and extra.strip() else value]
        if isinstance(value, list) and value:
            texts = _user_turns(value, key) if key in ("messages", "conversations") else \
                [v for v in value if isinstance(v, str)]
            if texts:
                return texts
    raise ValueError(f"no prompt field: expected one of {', '.join(PROMPT_KEYS)}; keys: {sorted(record)[:10]}")


def load_file(path: Path, name: str | None = None) -> list[BenchPrompt]:
    """Every prompt of a JSON or JSONL file; any unreadable record is an error (a silently skipped benchmark
    prompt would be an unchecked leak)."""
    path = Path(path)
    if not path.is_file():
        raise BenchFileError(f"benchmark file {path} does not exist")
    name = name or path.stem
    out, problems = [], []
    for rec in iter_records(path):
        if isinstance(rec, RecordError):
            problems.append(f"record {rec.index} (byte {rec.offset}): {rec.reason}: {rec.detail}")
            continue
        try:
            texts = prompts_of(rec.value)
        except ValueError as exc:
            problems.append(f"record {rec.index} (byte {rec.offset}): {exc}")
            continue
        ref = rec.value.get("question_id", rec.value.get("key", rec.value.get("id", rec.index))) \
            if isinstance(rec.value, dict) else rec.index
        out += [BenchPrompt(name, f"{ref}" if len(texts) == 1 else f"{ref}/t{k + 1}", t.strip())
                for k, t in enumerate(texts) if t.strip()]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise BenchFileError(f"benchmark file {path}: {len(problems)} unreadable records{more}: "
                             + "; ".join(problems[:5]))
    if not out:
        raise BenchFileError(f"benchmark file {path}: no prompts found")
    return out


def load_benchmarks(s: LeakageSettings, assets, extra_files: list[str] | None = None) -> list[BenchPrompt]:
    prompts: list[BenchPrompt] = []
    for name in s.benchmarks:
        if name not in BUILTIN:
            raise BenchFileError(f"unknown packaged benchmark {name!r}; choose from {', '.join(BUILTIN)} or name a "
                                 "file in leakage.files")
        prompts += load_file(assets.path(BUILTIN[name]), name)
    for f in [*s.files, *(extra_files or [])]:
        prompts += load_file(Path(f))
    unique = {p.id: p for p in prompts if len(p.text) >= s.min_bench_chars}
    return list(unique.values())


def fingerprint(prompts: list[BenchPrompt], s: LeakageSettings, model: str | list[str]) -> str:
    """Identifies what a check was made against: prompts, decision settings and embedding model(s)."""
    h = hashlib.sha256((model if isinstance(model, str) else "+".join(model)).encode())
    for pid in sorted(p.id for p in prompts):
        h.update(pid.encode())
    h.update(json.dumps(s.model_dump(exclude={"benchmarks", "files"}), sort_keys=True).encode())
    return h.hexdigest()


# ---- structural test ------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]|[^\W_]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def ngrams(toks: list[str], n: int) -> set[tuple[str, ...]]:
    n = max(1, min(n, len(toks)))
    return {tuple(toks[k:k + n]) for k in range(len(toks) - n + 1)}


MIN_NGRAMS = 4  # a prompt of 2-3 n-grams ("can you write code?") matches too much to identify a benchmark


def containment(bench: str, text: str, n: int) -> float:
    """Share of the benchmark prompt's n-grams that occur in ``text`` (1.0 = all of it is there); 0 for prompts
    too short to have MIN_NGRAMS n-grams."""
    b = tokens(bench)
    if len(b) - n + 1 < MIN_NGRAMS:
        return 0.0
    n = min(n, len(b))
    gb = ngrams(b, n)
    return len(gb & ngrams(tokens(text), n)) / len(gb)


# ---- decisions ------------------------------------------------------------------------------------------------
@dataclass
class Match:
    """The strongest evidence that one item copies a benchmark prompt."""
    turn: int
    prompt: BenchPrompt
    similarity: float
    ngram: float
    method: str = ""  # semantic | ngram | llm, or "" while undecided
    llm_verdict: str = ""
    text: str = ""
    model: str = ""  # the embedder whose cosine this is
    translation: str = ""  # a cross-lingual pair: the item as the judge compared it (tools/leakage_judge.py)


@dataclass
class ItemCheck:
    matches: list[Match] = field(default_factory=list)  # band pairs and leaks, strongest first
    leak: Match | None = None
    best: dict[str, float] = field(default_factory=dict)  # each embedder's best cosine over the item's turns

    @property
    def undecided(self) -> list[Match]:
        return [m for m in self.matches if not m.method]

    def for_judge(self) -> list[Match]:
        """The pairs the judge is asked about when nothing removed the item: each embedder's strongest undecided
        pair, once per benchmark prompt and turn (two embedders pointing at the same prompt cost one call)."""
        if self.leak is not None:
            return []
        out: dict[tuple[int, str], Match] = {}
        done: set[str] = set()
        for m in self.undecided:  # strongest first within each model
            if m.model not in done:
                done.add(m.model)
                out.setdefault((m.turn, m.prompt.id), m)
        return list(out.values())


EVIDENCE = ("ngram", "semantic", "llm")  # which leak names an item several embedders caught: verbatim text first


def combine(checks: list[ItemCheck]) -> ItemCheck:
    """One item's verdict from several embedders' checks: a leak when any embedder's check has one, band pairs from
    all of them. When several caught it, the reported leak is the one whose evidence needs no similarity scale to
    read (an n-gram hit, then a cosine at the cut), then the first in leakage.models order."""
    out = ItemCheck(best={k: v for c in checks for k, v in c.best.items()})
    for c in checks:
        out.matches += c.matches
    leaks = [c.leak for c in checks if c.leak is not None]
    out.leak = min(leaks, key=lambda m: EVIDENCE.index(m.method)) if leaks else None
    return out


def judge_pairs(turns: list[str], neighbours: list[list[tuple[BenchPrompt, float]]], s: LeakageSettings,
                model: str = "") -> ItemCheck:
    """Stage 1 and the n-gram half of stage 2 for one item; LLM-undecided band pairs are left with method ''."""
    if s.remove_threshold is None or s.band_low is None:
        raise ValueError("judge_pairs needs the model's cosine cuts: pass LeakageSettings.for_model(model)")
    check = ItemCheck(best={model: round(max((float(sim) for near in neighbours for _, sim in near), default=0.0),
                                         4)})
    for k, (text, near) in enumerate(zip(turns, neighbours)):
        for prompt, sim in near:
            if sim < s.band_low:
                continue
            m = Match(k, prompt, round(float(sim), 4), round(containment(prompt.text, text, s.ngram_n), 4), text=text,
                      model=model)
            if sim >= s.remove_threshold:
                m.method = "semantic"
            elif m.ngram >= s.ngram_threshold:
                m.method = "ngram"
            check.matches.append(m)
    check.matches.sort(key=lambda m: (bool(m.method), m.similarity), reverse=True)
    check.leak = next((m for m in check.matches if m.method), None)
    return check


def user_turns(messages: list[dict[str, str]], max_turns: int) -> list[str]:
    turns = [m["content"] for m in messages if m["role"] == "user"]
    return turns[:max_turns] if max_turns else turns


def nearest(vectors: np.ndarray, store, collection: str, by_id: dict[str, BenchPrompt], k: int,
            batch: int = 1000) -> list[list[tuple[BenchPrompt, float]]]:
    out: list[list[tuple[BenchPrompt, float]]] = []
    k = min(k, len(by_id))
    for start in range(0, len(vectors), batch):
        for row in store.query(collection, vectors[start:start + batch], k=k):
            out.append([(by_id[i], sim) for i, sim in row if i in by_id])
    return out


# ---- LLM check --------------------------------------------------------------------------------------------------
class SameTaskCheck(LLMTask[tuple[str, str], bool]):
    """(benchmark prompt, item turn) -> whether they ask for the same task (the judge on band pairs)."""

    name, template = "leakage_check", "leakage_check.j2"

    def __init__(self, role: str = "judge", chars: int = 1500) -> None:
        super().__init__(role)
        self.chars = chars

    def format_input(self, item: tuple[str, str]) -> Messages:
        return render_messages(self.template, benchmark=item[0][:self.chars], item=item[1][:self.chars])

    def parse_output(self, text: str, item: tuple[str, str]) -> bool:
        value = parse_json_object(text).get("same_task")
        if not isinstance(value, bool):
            raise ParseError('"same_task" must be true or false')
        return value
