"""tools/executor.py with the local executor: shards in order, completion markers a restarted step reuses item by
item, damaged or foreign markers redone, markers gone once the step is done, clear errors."""
import builtins
from dataclasses import dataclass, field

import pytest

from settings import load_config
from tools.executor import ExecutorError, StepCounts, run_step, shard_dir


@dataclass
class Squares:
    """A toy step: item -> item squared; fails on ``fail_on`` (a worker dying mid-step)."""
    salt: str = "v1"
    fail_on: int | None = None
    name: str = "squares"
    seen: list = field(default_factory=list)
    setups: int = 0

    def fingerprint(self) -> str:
        return self.salt

    def item_key(self, item: int) -> str:
        return str(item)

    def setup(self) -> None:
        self.setups += 1

    def process(self, items: list[int]) -> list[int]:
        if self.fail_on in items:
            raise RuntimeError(f"worker died on {self.fail_on}")
        self.seen += items
        return [i * i for i in items]


@pytest.fixture
def cfg(tmp_path):
    return load_config(tmp_path / "home", env={}, overrides=["executors.shard_size=3"])


def test_results_come_in_item_order_a_shard_at_a_time(cfg):
    step, calls = Squares(), []
    out = run_step(step, list(range(10)), cfg, on_shard=lambda items, results: calls.append((items, results)))
    assert out == [i * i for i in range(10)]
    assert [items for items, _ in calls] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert step.setups == 1  # once per worker, not per shard
    assert not (cfg.home / "shards").exists()  # a finished step leaves no markers, nor empty folders


def test_a_restarted_step_redoes_only_the_unfinished_shards(cfg):
    with pytest.raises(RuntimeError, match="worker died on 7"):
        run_step(Squares(fail_on=7), list(range(10)), cfg)
    assert len(list(shard_dir(cfg.home, Squares()).glob("*.pkl"))) == 2  # shards [0-2] and [3-5] finished
    again, stored = Squares(), {}
    # the restart may ask for the items in another order and in other shards: markers are read item by item
    out = run_step(again, list(reversed(range(10))), cfg, on_shard=lambda items, r: stored.update(zip(items, r)))
    assert sorted(again.seen) == [6, 7, 8, 9]
    assert out == [i * i for i in reversed(range(10))] and stored == {i: i * i for i in range(10)}
    counts = StepCounts()
    run_step(Squares(), [1, 2], cfg, counts=counts)
    assert counts.reused_items == 0 and counts.shards == 1  # the finished step's markers are gone


def test_a_damaged_marker_or_another_fingerprint_is_computed_again(cfg):
    with pytest.raises(RuntimeError):
        run_step(Squares(fail_on=4), list(range(6)), cfg)
    folder = shard_dir(cfg.home, Squares())
    (folder / "garbage.pkl").write_bytes(b"not a pickle")
    other = Squares(salt="v2")  # another model or setting: nothing of v1 is reused
    assert run_step(other, list(range(6)), cfg) == [i * i for i in range(6)] and sorted(other.seen) == list(range(6))
    same = Squares()
    assert run_step(same, list(range(6)), cfg) == [i * i for i in range(6)] and same.seen == [3, 4, 5]
    assert not folder.exists()


def test_a_step_that_returns_too_few_results_is_refused(cfg):
    class Short(Squares):
        def process(self, items):
            return items[:-1]

    with pytest.raises(ExecutorError, match="2 results for a shard of 3"):
        run_step(Short(), [1, 2, 3], cfg)


def test_no_home_means_this_process_and_no_markers(tmp_path):
    assert run_step(Squares(), [3, 4], None) == [9, 16]
    assert not list(tmp_path.iterdir())


def test_the_ray_executor_without_ray_says_how_to_get_it(cfg, monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"instruct-loop\[ray\]"):
        run_step(Squares(), [1], cfg.model_copy(update={"executor": "ray"}))


def test_a_finished_call_removes_only_its_own_markers(cfg):
    with pytest.raises(RuntimeError):
        run_step(Squares(fail_on=5), [0, 1, 2, 3, 4, 5], cfg)  # leaves the marker of [0, 1, 2]
    run_step(Squares(), [10, 11], cfg)  # another call, same fingerprint, other items
    again = Squares()
    assert run_step(again, [0, 1, 2, 3, 4, 5], cfg) == [0, 1, 4, 9, 16, 25] and again.seen == [3, 4, 5]
    assert not (cfg.home / "shards").exists()
