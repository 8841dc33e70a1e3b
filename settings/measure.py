"""Settings of the measure step and the stop rule: what is measured each round, and when the loop ends."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MeasureSettings(BaseModel):
    """Per-round figures of the dataset, its new items, the seeds, a random reference and the pool (docs/stats.md),
    and the plateau rule that reads them."""

    model_config = ConfigDict(extra="forbid")
    min_growth: float = Field(0.01, ge=0, description="A coverage figure (spatial entropy, occupied cells, tag "
                              "share) or depth figure (mean depth, mean difficulty) that grows by less than this "
                              "fraction in a round has plateaued.")
    patience: int = Field(2, ge=1, description="The loop stops when every coverage and depth figure has plateaued "
                          "for this many consecutive rounds. Round 1 is compared with the random reference of the "
                          "same size (the pool before the loop chose anything), not with zero.")
    difficulty_sample: int = Field(16, ge=0, description="Items of each set whose difficulty (0-4) the judge rates "
                                   "each round; a fixed seeded order, so earlier ratings come from the LLM cache. "
                                   "0 = no difficulty figures (and difficulty is left out of the stop rule).")
    difficulty_role: str = Field("judge", description="LLM role that rates difficulty.")
    vendi_sample: int = Field(500, ge=0, description="Items of each set whose embeddings give its Vendi score.")
    pool_sample: int = Field(50_000, ge=0, description="Pool conversations placed on the map for the pool's figures "
                             "(the coverage the pool itself reaches); 0 = none.")
    score_limit: int = Field(256, ge=0, description="Dataset and reference conversations without a cached base loss "
                             "scored by the measure step each round, so depth is not read from the seeds alone; "
                             "0 = none.")
