"""Settings of the fourth stage: deficiency diagnosis (the oracle diagnoser) and targeted synthesis.

Part of ``IloopConfig`` (settings/config.py), so env, YAML and --set reach them (docs/diagnosis.md).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from settings.sections import preset_for


class DiagnosisSettings(BaseModel):
    """The held-out diagnosis split, M_FT's answers and the oracle's findings."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Run the oracle diagnoser and the targeted synthesizer every round "
                          "after evolution.")
    sample_size: int = Field(16, ge=1, description="Diagnosis items drawn FRESH each round by the seed selector from "
                             "the seeds not yet evolved (stratified by domain and criterion), held out from every "
                             "fine-tune and from evolution for good, then answered by M_FT and judged by the oracle.")
    max_share: float = Field(0.5, gt=0, le=1, description="Most of the never-evolved seeds one round may hold out "
                             "(so a small pool keeps seeds to evolve; a round with one such seed holds out none).")
    finetune_per_domain: int = Field(0, ge=0, description="Dataset conversations per domain that M_FT for diagnosis "
                                     "trains on; 0 = finetune.per_domain. The other fine-tune knobs are finetune.*.")
    refresh_growth: float = Field(0.2, ge=0, description="M_FT for diagnosis is re-trained when its balanced "
                                  "subset of the seeds would grow by more than this fraction, the domains or "
                                  "fine-tune settings changed, refresh_new_items new generated items arrived, or it "
                                  "trained on an item now held out; else the last one answers.")
    refresh_new_items: int = Field(1, ge=1, description="New admitted evolved or synthesized items that make M_FT for "
                                   "diagnosis re-train (1: every round that admitted any, so the next round's sample "
                                   "measures the items made for its skills).")
    answer_max_tokens: int = Field(384, ge=16, description="New tokens M_FT may generate per diagnosis answer "
                                   "(greedy decoding); a cut answer is judged as it is and marked truncated.")
    answer_batch: int = Field(4, ge=1, description="Diagnosis queries M_FT answers in one generate batch.")
    prompt_max_tokens: int = Field(768, ge=32, description="Query tokens M_FT reads (the first user turn and its "
                                   "context); a longer query keeps the start of its last turn.")
    map_threshold: float | None = Field(None, gt=0, le=1, description="Cosine at or above which a missing skill "
                                        "maps to its nearest canonical tag; below, it becomes a candidate new tag. "
                                        "None = map_presets for embedding.model.")
    map_presets: dict[str, float] = Field(
        # the fewest errors (a wrong map counting twice a missed one) on 68 labelled skill phrases against 50 tags,
        # bench/calibrate_skill_map.py; in-sample, docs/diagnosis.md has the table
        default_factory=lambda: {"minilm-l6-v2": 0.475, "use-multilingual-v3": 0.55},
        description="map_threshold per embedding model (a key contained in the name matches); 0.6 otherwise "
                    "(not calibrated).")
    reference_chars: int = Field(2500, ge=200, description="Characters of the query, the reference and M_FT's "
                                 "answer the oracle reads (each cut with a marker).")

    def threshold_for(self, model: str) -> float:
        return self.map_threshold if self.map_threshold is not None else preset_for(self.map_presets, model, 0.6)


class SynthesisSettings(BaseModel):
    """The targeted synthesizer: how many new items a deficient skill gets and how they are checked."""

    model_config = ConfigDict(extra="forbid")
    per_skill: float = Field(2.0, gt=0, description="Base items per deficient skill, multiplied by the skill's "
                             "frequency this round, its mean severity / 2 and the steering weight of its tag and "
                             "domain (coverage analyst and console), rounded, at least 1 (none at weight 0).")
    max_per_skill: int = Field(4, ge=1, description="Most items asked for one skill in one round.")
    max_per_round: int = Field(24, ge=0, description="Most items the synthesizer asks for in a round (the skills "
                               "with the largest weight first); 0 = none, and the round counts as served.")
    examples: int = Field(2, ge=0, le=2, description="Diagnosis items shown as style examples (1 or 2; 0 = none).")
    example_chars: int = Field(600, ge=50, description="Characters of each style example shown.")
    max_similarity: float | None = Field(None, gt=0, le=1, description="Cosine to any diagnosis item at or above "
                                         "which a synthesized instruction is a near-copy and rejected; None = "
                                         "evolution's similarity preset for embedding.model. Benchmark near-copies "
                                         "are the leakage guard's, which checks every synthesized item.")
    copy_span_tokens: int = Field(10, ge=4, description="A synthesized instruction that shares this many consecutive "
                                  "tokens (words; a Chinese character is a token) with any diagnosis item is a "
                                  "near-copy and rejected.")
    answer_max_tokens: int | None = Field(None, ge=16, description="Token cap of one assistant answer in a "
                                          "synthesized dialogue (a first answer cut there rejects the item as "
                                          "answer_cut); the synthesizer is asked for tasks whose complete answer "
                                          "fits in about 0.6 words a token of it. None = evolution.answer_max_tokens.")
    judge: bool = Field(True, description="Ask the judge role whether a synthesized instruction is a real, "
                        "answerable task that exercises the skill; off = rule checks only.")
