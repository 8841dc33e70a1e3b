"""Settings of the evolution stage (evolver, judge, dialogues) and of the leakage guard.

Part of ``IloopConfig`` (settings/config.py), so env, YAML and --set reach them. The leakage defaults come from the
calibration in docs/leakage.md (bench/calibrate_leakage.py reproduces it).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from settings.sections import preset_for

OPERATIONS = ("breadth", "reasoning", "concretizing", "deepening")


class EvolutionSettings(BaseModel):
    """The evolver: which seeds, which operation, what counts as a valid evolution, how long the dialogues are."""

    model_config = ConfigDict(extra="forbid")
    max_per_round: int = Field(32, ge=0, description="Seeds evolved per round (oldest selected first); 0 = all. "
                               "On CPU the 1.5B needs about a minute per seed with its dialogue.")
    operation_weights: dict[str, float] = Field(
        default_factory=lambda: {op: 1.0 for op in OPERATIONS},
        description="Relative weight of each operation (breadth, reasoning, concretizing, deepening) in the random "
        "choice; steering rows of kind 'operation' multiply them; 0 disables one.")
    max_seed_chars: int = Field(2500, ge=100, description="Seeds whose instruction is longer are not evolved "
                                "(status exhausted): the rewrite would have to reproduce all of it.")
    min_chars: int = Field(20, ge=1, description="An evolved instruction shorter than this is rejected (too_short).")
    min_length_ratio: float = Field(0.6, ge=0, description="In-depth operations (all but breadth) must keep at "
                                    "least this fraction of the seed's length (too_short).")
    max_similarity: float | None = Field(None, gt=0, le=1, description="Embedding cosine to the seed at or above "
                                         "which the evolution is near-identical (unchanged); overrides "
                                         "similarity_presets when set.")
    similarity_presets: dict[str, float] = Field(
        # bench/calibrate_evolution.py on bench/evolution_pairs.jsonl (docs/evolution.md): at these cuts no labelled
        # evolution is lost; USE catches 13 of 16 near-copies at 0.92, MiniLM 12 at 0.97
        default_factory=lambda: {"minilm-l6-v2": 0.97, "use-multilingual-v3": 0.92},
        description="max_similarity per embedding model (key: embedding.model or its folder name; a key contained "
        "in the name matches, as taxonomy.thresholds); 0.97 for a model not listed.")
    judge: bool = Field(True, description="Ask the judge role whether the evolved instruction is answerable and a "
                        "real evolution; off = rule checks only.")
    turn_weights: list[float] = Field(default_factory=lambda: [0.4, 0.3, 0.2, 0.1], description="Relative "
                                      "weights of dialogues with 1, 2, 3 and 4 rounds (paper: 1-4).")
    dialogue_role: str = Field("evolver", description="LLM role that answers as the assistant and writes the "
                               "user's follow-ups.")
    answer_max_tokens: int = Field(1024, ge=16, description="Token cap of one assistant answer; a cut answer ends "
                                   "the dialogue at the previous round (or rejects it in round 1).")
    max_attempts: int = Field(2, ge=1, description="Evolution attempts per seed (each a fresh random operation) "
                              "before the seed is marked exhausted.")
    max_generation: int = Field(3, ge=1, description="Deepest generation an evolution may reach: an evolved item "
                                "of generation k (1 = evolved from a pool conversation) is a seed candidate again "
                                "only while k < max_generation (Evol-Instruct evolves in generations).")

    @field_validator("turn_weights")
    @classmethod
    def _four_weights(cls, v: list[float]) -> list[float]:
        if len(v) != 4 or any(w < 0 for w in v) or not sum(v):
            raise ValueError("turn_weights needs 4 non-negative weights (1..4 rounds), not all zero")
        return v

    @field_validator("operation_weights")
    @classmethod
    def _known_ops(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(OPERATIONS)
        if unknown or any(w < 0 for w in v.values()):
            raise ValueError(f"operation_weights: keys from {', '.join(OPERATIONS)}, weights >= 0; got {v}")
        # a key left out keeps weight 1, so `--set evolution.operation_weights.breadth=2` changes only breadth
        return {op: float(v.get(op, 1.0)) for op in OPERATIONS}

    def for_model(self, model: str) -> "EvolutionSettings":
        """These settings with max_similarity resolved for one embedding model (an explicit value wins)."""
        if self.max_similarity is not None:
            return self
        return self.model_copy(update={"max_similarity": preset_for(self.similarity_presets, model, 0.97)})


class LeakageBand(BaseModel):
    """The two cosine cuts of the leakage guard for one embedding model (they depend on its similarity scale)."""

    model_config = ConfigDict(extra="forbid")
    remove_threshold: float = Field(0.85, gt=0, le=1, description="Cosine to a benchmark prompt at or above which "
                                    "an item is removed outright.")
    band_low: float = Field(0.75, gt=0, le=1, description="Items with cosine in [band_low, remove_threshold) get the "
                            "second test (n-gram containment, then the LLM check when enabled).")


def _default_bands() -> dict[str, LeakageBand]:
    # Calibrated on bench/leakage_calibration.jsonl with bench/calibrate_leakage.py (docs/leakage.md); a model
    # without a preset gets LeakageBand()'s values, MiniLM's.
    # The guard uses both by default (leakage.models); each preset is the lowest remove cut with no false positive
    # on the clean items, for the model alone and in the combination (both meet on the same item).
    # MiniLM: a same-template problem with other numbers reads 0.899, so 0.90
    return {"minilm-l6-v2": LeakageBand(remove_threshold=0.90, band_low=0.75),
            # USE: the lowest cut without a false positive on the clean items is 0.95 (it reads a same-template
            # problem with other numbers at 0.948); the band must reach 0.60 to hold 31 of 32 translations
            "use-multilingual-v3": LeakageBand(remove_threshold=0.95, band_low=0.60)}


class LeakageSettings(BaseModel):
    """Benchmark-leakage removal: which benchmarks, and the two-stage decision (embedding, then n-gram / LLM)."""

    model_config = ConfigDict(extra="forbid")
    benchmarks: list[str] = Field(default_factory=lambda: ["mt-bench", "alpaca-eval", "ifeval"],
                                  description="Packaged benchmark prompt sets (from the fetched assets).")
    files: list[str] = Field(default_factory=list, description="Extra benchmark files (JSON or JSONL); the "
                             "prompt field is found as docs/leakage.md says.")
    models: list[str] = Field(
        default_factory=lambda: ["minilm-l6-v2", "use-multilingual-v3"], min_length=1,
        description="Embedders the guard compares with, each with its own band (leakage.bands) and Chroma "
        "collections: a turn is removed when any of them reaches its remove_threshold, and is a band pair when any "
        "puts it in its band and none removes it. Names as embedding.model (a preset or a sentence-transformers "
        "folder). Default: MiniLM (strongest on English paraphrases) and USE (cross-lingual).")
    bands: dict[str, LeakageBand] = Field(
        default_factory=_default_bands, description="The cosine cuts per embedder (key: a leakage.models entry or "
        "its folder name; a key contained in the name matches, as taxonomy.thresholds). Calibrated in "
        "docs/leakage.md.")
    screen: str | None = Field(
        "use-multilingual-v3", description="An entry of leakage.models that screens for the others: they embed only "
        "the user turns it puts at cosine >= screen_floor to some benchmark prompt (the rest cannot reach their own "
        "band, measured in docs/leakage.md). null, or a name not in leakage.models: every embedder reads every turn.")
    screen_floor: float | None = Field(None, gt=0, le=1, description="The screen's cosine floor; default its "
                                       "band_low.")
    remove_threshold: float | None = Field(None, gt=0, le=1, description="Overrides bands.<model>.remove_threshold "
                                           "of every model in leakage.models when set.")
    band_low: float | None = Field(None, gt=0, le=1, description="Overrides bands.<model>.band_low of every model "
                                   "in leakage.models when set.")
    ngram_n: int = Field(3, ge=1, description="Word n-gram length of the structural test (characters for Chinese).")
    ngram_threshold: float = Field(0.7, gt=0, le=1, description="Share of the benchmark prompt's n-grams found in "
                                   "the item at or above which a band item is a leak.")
    llm_check: bool = Field(False, description="Ask the judge role about band items the n-gram test did not "
                            "settle (costs one call per such item).")
    top_k: int = Field(3, ge=1, description="Nearest benchmark prompts compared per user turn.")
    max_turns: int = Field(8, ge=0, description="User turns compared per conversation; 0 = all.")
    min_bench_chars: int = Field(12, ge=0, description="Benchmark prompts shorter than this are ignored (too "
                                 "generic to identify a benchmark).")

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v) or not all(m.strip() for m in v):
            raise ValueError(f"leakage.models: distinct, non-empty embedder names; got {v}")
        return v

    def for_model(self, model: str) -> "LeakageSettings":
        """These settings with remove_threshold and band_low resolved for one embedder: an explicit value wins,
        else the model's entry in ``bands``."""
        band = preset_for(self.bands, model, LeakageBand())
        return self.model_copy(update={"remove_threshold": band.remove_threshold if self.remove_threshold is None
                                       else self.remove_threshold,
                                       "band_low": band.band_low if self.band_low is None else self.band_low})
