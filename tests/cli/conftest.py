"""The CLI tests' ``home``: a real home initialised by `iloop init` (helpers in tests/cli/helpers.py)."""
import pytest

from tests.cli.helpers import iloop


@pytest.fixture
def home(tmp_path, assets, monkeypatch):
    monkeypatch.setenv("ILOOP_ASSETS", str(assets.root))
    monkeypatch.setenv("ILOOP_SCORING__MODEL", "smollm2-135m")  # the tiny real scorer; 0.5B is for real runs
    monkeypatch.setenv("ILOOP_FINETUNE__STEPS", "4")
    h = tmp_path / "home"
    assert iloop(h, "init").exit_code == 0
    return h
