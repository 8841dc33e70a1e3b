"""Where the bulk steps (tagging's LLM calls, embedding, loss scoring) run: in this process, or on Ray."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RaySettings(BaseModel):
    """The Ray executor (optional extra `ray`): each bulk step is a Ray Data `map_batches` over shards, with a
    fixed pool of actors that load their model once. The LangGraph loop stays on the driver."""

    model_config = ConfigDict(extra="forbid")
    address: str = Field("", description="Ray cluster address (e.g. ray://head:10001 or auto); empty = start a "
                         "local Ray on this machine for the run.")
    num_cpus: int = Field(0, ge=0, description="CPUs of the local Ray started when address is empty; 0 = all.")
    actors: int = Field(2, ge=1, description="Actors per step (each keeps its model loaded).")
    cpus_per_actor: float = Field(1.0, gt=0, description="CPUs Ray reserves for each actor.")
    object_store_mb: int = Field(1024, ge=64, description="Object store of the local Ray (results travel through "
                                 "it; shards are small).")
    gpus_per_actor: float = Field(0.0, ge=0, description="GPUs Ray reserves for each actor of a torch step "
                                  "(loss scoring, embedding); LLM calls go to the roles' servers and take none.")


class ExecutorSettings(BaseModel):
    """How a bulk step's items are cut into shards, and where finished shards are kept until the step is done."""

    model_config = ConfigDict(extra="forbid")
    shard_size: int = Field(256, ge=1, description="Items per shard: the unit of work handed to a worker and the "
                            "unit a restarted step does not redo (a finished shard's results stay on disk under "
                            "<home>/shards until its step has stored them). Tagging uses tagging.batch_size.")
    ray: RaySettings = Field(default_factory=RaySettings, description="Ray executor settings.")
