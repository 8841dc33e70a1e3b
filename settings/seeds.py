"""Settings of the seed-selection stage: loss scoring, the quick LoRA fine-tune and the selector.

The paper's absolute numbers refer to a ~7M pool; a 0 in a count or a cut means "scale the paper's number to this
pool" by the rules in docs/seeds.md. Part of ``IloopConfig`` (settings/config.py), so env, YAML and --set reach them.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The paper's four criteria in its order, and ILA, the alternative: keys of seeds, steering rows and metrics.
CRITERIA = ("hard", "long_tail", "multi_skill", "undertrained")
ALL_CRITERIA = CRITERIA + ("ila",)


class ScoringSettings(BaseModel):
    """The causal LM that measures token-level cross-entropy of responses (loss, IFD, depth)."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field("qwen2.5-coder-0.5b", description="Packaged GGUF asset name (converted once to a bf16 "
                       "folder under <assets>/hf) or a path to a local Hugging Face model folder.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto", description="Weights dtype of scoring and M_FT. 'auto': bfloat16 on CUDA and on CPUs with native bf16 "
        "(AVX512-BF16 or AMX), else float32 (emulated bf16 ran a LoRA step 40x slower than fp32).")
    max_tokens: int = Field(1024, ge=32, description="Tokens per conversation; longer ones are cut to a window "
                            "starting at most max_tokens/2 tokens before the first response token.")
    batch_tokens: int = Field(4096, ge=64, description="Token budget of one padded batch (rows x longest row): "
                              "conversations are bucketed by length so padding stays small.")
    max_batch: int = Field(16, ge=1, description="Most conversations in one batch.")
    max_per_round: int = Field(256, ge=0, description="Tagged, unscored conversations scored per round by the "
                               "seed selector; 0 = all. At ~300 tok/s (0.5B, 2 cores) 256 conversations take "
                               "minutes.")
    ifd: bool = Field(False, description="Also score the response alone, giving IFD = loss(response | query) / "
                      "loss(response). Forced on when selection.hard_measure is 'ifd'.")


class FinetuneSettings(BaseModel):
    """The quick LoRA fine-tune of the scoring model (M_FT): loss reduction for hard-to-follow, later diagnosis."""

    model_config = ConfigDict(extra="forbid")
    per_domain: int = Field(1000, ge=1, description="Training conversations per domain category (paper: 1,000); "
                            "a domain with fewer gives all it has.")
    epochs: int = Field(1, ge=1, description="Passes over the balanced subset: epochs x ceil(subset / batch_size) "
                        "optimizer steps, so M_FT sees every conversation of its subset.")
    steps: int = Field(0, ge=0, description="Cap on optimizer steps; 0 = no cap (epochs x subset / batch). A cap "
                       "below that trains on part of the subset only (logged; the adapter card's "
                       "seen_conversations says how many): to make a run cheaper, lower per_domain instead.")
    batch_size: int = Field(4, ge=1, description="Conversations per step.")
    learning_rate: float = Field(2e-4, gt=0, description="AdamW learning rate of the LoRA weights.")
    lora_r: int = Field(16, ge=1, description="LoRA rank (all linear layers).")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha.")
    max_tokens: int = Field(512, ge=32, description="Training sequence cap in tokens (same window rule as scoring).")
    seed: int | None = Field(None, description="Seed of the subset sample and of training; None = the global seed.")
    refresh_growth: float = Field(0.5, ge=0, description="The selector re-trains when the balanced subset would "
                                  "grow by more than this fraction, or the domain set changed.")


class SelectionSettings(BaseModel):
    """The seed selector: the four criteria of the paper (in sequence), ILA, and how steering acts."""

    model_config = ConfigDict(extra="forbid")
    strategy: Literal["criteria", "ila", "both"] = Field("criteria", description="criteria = the paper's four; "
                                                         "ila = depth x coverage on a grid; both = their union.")
    hard_measure: Literal["reduction", "ifd"] = Field("reduction", description="Hard-to-follow by the smallest "
                                                      "loss reduction after fine-tuning (paper) or the highest "
                                                      "IFD (the authors' README); ifd needs no fine-tune.")
    hard_count: int = Field(0, ge=0, description="Hard-to-follow seeds in total (over all rounds; a round adds "
                            "only what brings the criterion up to it); 0 = scaled: ceil(50,000 x scored / "
                            "paper_pool_size).")
    long_tail_max_freq: int = Field(0, ge=0, description="A tag rarer than this (conversations) is long-tail; 0 = "
                                    "scaled: max(2, ceil(200 x tagged / paper_pool_size)).")
    mid_band_max_freq: int = Field(0, ge=0, description="Tags with frequency in [long-tail cut, this) form the "
                                   "middle band; 0 = scaled: max(ceil(2.5 x long-tail cut), ceil(500 x tagged / "
                                   "paper_pool_size)).")
    mid_band_share: float = Field(0.3, ge=0, le=1, description="Seeded random share of middle-band conversations "
                                  "that are also taken (paper: 30%).")
    multi_skill_min_tags: int = Field(5, ge=2, description="Multi-skill = at least this many fine tags (paper: "
                                      "more than 4).")
    undertrained_z: float = Field(1.96, ge=0, description="Undertrained = base loss above mean + z x std.")
    undertrained_count: int = Field(0, ge=0, description="Undertrained seeds in total (highest loss first, over "
                                    "all rounds); 0 = scaled: ceil(200,000 x scored / paper_pool_size).")
    ila_grid: int = Field(200, ge=2, description="ILA grid side G (G x G cells over the stored 2D projection; "
                          "paper: 200).")
    ila_budget: int = Field(0, ge=0, description="ILA seeds in total (over all rounds); 0 = scaled: the paper's "
                            "1.2M of 7M (17%) of the candidates.")
    near_misses: int = Field(10, ge=0, description="Near misses per criterion recorded as decisions.")
    map_method: Literal["tsne", "pca"] | None = Field(None, description="The fixed 2D semantic map that ILA's grid "
                                                      "and the measure step's figures use: t-SNE (openTSNE, "
                                                      "placing later points with transform) or PCA. None = the map "
                                                      "this home already has, else t-SNE. Fitted once per home; "
                                                      "switching fits the other, and the stop rule then compares "
                                                      "the next round with the reference, not the round before.")
    map_sample: int = Field(20_000, ge=100, description="Embedded instructions the t-SNE map is fitted on (a "
                            "seeded sample across every source; about 1 min per 10,000 on 2 cores).")
    projection_sample: int = Field(200_000, ge=100, description="Most embedded instructions the PCA map is "
                                   "fitted on (once, a sample seeded by the global seed across every source; "
                                   "later rounds only transform).")
