"""Where a bulk step runs: in this process (the default) or on Ray, with per-shard completion markers.

A bulk step (tools/bulk_steps.py) is built from plain values on the driver, so it pickles to a worker; it sets
itself up once per worker (loads its model, opens its LLM client) and maps a list of items to a list of results.
``run_step`` cuts the items into shards and hands them to the executor. Each finished shard's results are written
to ``<home>/shards/<step>/<fingerprint>/<shard>.pkl`` (atomically: the file is the completion marker) and given
to the caller's ``on_shard`` (which stores them); a step restarted after a crash reads the finished shards back,
item by item, and sends only the rest to the workers. The markers a finished call read or wrote are removed.

The Ray executor is Ray Data's ``map_batches`` over shards with a fixed pool of actors (each keeps its model
loaded), ``ray`` an optional extra imported only here. The LangGraph loop stays on the driver.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from settings import IloopConfig


class BatchStep(Protocol):
    name: str

    def fingerprint(self) -> str:
        """Everything the results depend on (model, settings): shards of another fingerprint are not reused."""

    def item_key(self, item: Any) -> str:
        """A stable key of one item (a content hash)."""

    def setup(self) -> None:
        """Once per worker, before its first shard."""

    def process(self, items: list) -> list:
        """Results in item order, one per item."""


class ExecutorError(RuntimeError):
    pass


@dataclass
class StepCounts:
    """What one run of a step did: items, shards computed now, items read back from finished shards."""
    items: int = 0
    shards: int = 0
    reused_items: int = 0
    executor: str = "local"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def shard_dir(home: Path, step: BatchStep) -> Path:
    return Path(home) / "shards" / step.name / _digest(step.fingerprint())


def _finished(folder: Path, wanted: set[str], used: list[Path]) -> dict[str, Any]:
    """item key -> result of every finished shard in ``folder`` (a shard that cannot be read is redone); the files
    holding any of the ``wanted`` keys are added to ``used``."""
    out: dict[str, Any] = {}
    for path in sorted(folder.glob("*.pkl")) if folder.is_dir() else []:
        try:
            # only files this module wrote (atomic rename): the process's own results, never LLM text to run
            keys, results = pickle.loads(path.read_bytes())
        except Exception:  # a foreign or damaged file: its items are computed again
            path.unlink(missing_ok=True)
            continue
        out.update(zip(keys, results))
        if wanted.intersection(keys):
            used.append(path)
    return out


def _write_shard(folder: Path, keys: list[str], results: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = _digest(*keys)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(pickle.dumps((keys, results), protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, folder / f"{name}.pkl")
    return folder / f"{name}.pkl"


def _local(step: BatchStep, shards: list[list]) -> Iterator[tuple[int, list]]:
    step.setup()
    for k, items in enumerate(shards):
        yield k, step.process(items)


def run_step(step: BatchStep, items: Sequence, cfg: IloopConfig | None,
             on_shard: Callable[[list, list], None] | None = None, shard_size: int | None = None,
             counts: StepCounts | None = None) -> list:
    """Results of ``step`` for ``items`` in item order; ``on_shard(items, results)`` after each finished shard
    (and once for the items read back from an earlier, interrupted run). Without ``cfg``: this process, shards
    of 256, no markers (a caller with no home)."""
    counts = counts if counts is not None else StepCounts()
    counts.items, counts.executor = len(items), cfg.executor if cfg else "local"
    items = list(items)
    if not items:
        return []
    folder = shard_dir(cfg.home, step) if cfg else None
    keys = [step.item_key(it) for it in items]
    used: list[Path] = []  # the markers this call read or wrote: the only ones it removes when it is done
    done = _finished(folder, set(keys), used) if folder else {}
    reused = [k for k, key in enumerate(keys) if key in done]
    if reused:
        counts.reused_items = len(reused)
        if on_shard:
            on_shard([items[k] for k in reused], [done[keys[k]] for k in reused])
    todo = [k for k, key in enumerate(keys) if key not in done]
    size = shard_size or (cfg.executors.shard_size if cfg else 256)
    shards = [todo[s:s + size] for s in range(0, len(todo), size)]
    if shards:
        payload = [[items[k] for k in shard] for shard in shards]
        runner = _ray(step, payload, cfg) if counts.executor == "ray" else _local(step, payload)
        for s, results in runner:
            if len(results) != len(shards[s]):
                raise ExecutorError(f"step {step.name}: {len(results)} results for a shard of {len(shards[s])}")
            shard_keys = [keys[k] for k in shards[s]]
            if folder:
                used.append(_write_shard(folder, shard_keys, results))
            done.update(zip(shard_keys, results))
            counts.shards += 1
            if on_shard:
                on_shard(payload[s], results)
    if folder:
        # the step is done: its markers have served. Markers of another call (an interrupted run over other items,
        # a second process with the same fingerprint) stay.
        for path in used:
            path.unlink(missing_ok=True)
        for empty in (folder, folder.parent, folder.parent.parent):  # and <home>/shards/<step>..., when empty
            try:
                empty.rmdir()
            except OSError:
                break
    return [done[key] for key in keys]


# ---- Ray ---------------------------------------------------------------------------------------------------------
def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ExecutorError("executor 'ray' needs Ray: pip install 'instruct-loop[ray]' (or set executor: local)"
                            ) from exc
    return ray


def ray_started(cfg: IloopConfig):
    """Ray, connected to executors.ray.address or to a local Ray started for this process."""
    ray = _import_ray()
    if not ray.is_initialized():
        import logging
        # Ray Data's per-dataset progress lines would bury the loop's own log
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
        rs = cfg.executors.ray
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if rs.address:
            ray.init(address=rs.address, **kwargs)
        else:
            ray.init(num_cpus=rs.num_cpus or os.cpu_count(), object_store_memory=rs.object_store_mb * 2 ** 20,
                     **kwargs)
    return ray


class _ShardWorker:
    """One Ray actor: the step set up once, then a shard per call (batch_size=1 row = one pickled shard)."""

    def __init__(self, step_blob: bytes) -> None:
        self.step = pickle.loads(step_blob)
        self.step.setup()

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        out = [pickle.dumps(self.step.process(pickle.loads(blob)), protocol=pickle.HIGHEST_PROTOCOL)
               for blob in batch["items"]]
        return {"shard": np.asarray(batch["shard"]), "results": np.array(out, dtype=object)}


def _ray(step: BatchStep, shards: list[list], cfg: IloopConfig) -> Iterator[tuple[int, list]]:
    ray = ray_started(cfg)
    rs = cfg.executors.ray
    rows = [{"shard": k, "items": pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)} for k, s in enumerate(shards)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        _ShardWorker, fn_constructor_args=(pickle.dumps(step),), batch_size=1, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(rs.actors, len(rows), getattr(step, "max_actors", 0) or rs.actors)),
        num_cpus=rs.cpus_per_actor,
        num_gpus=rs.gpus_per_actor if getattr(step, "uses_gpu", False) else 0)
    for row in ds.iter_rows():
        yield int(row["shard"]), pickle.loads(row["results"])
