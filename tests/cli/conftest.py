"""Shared by the CLI tests: a real home initialised by `iloop init`, and the runner."""
import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path, assets, monkeypatch):
    monkeypatch.setenv("ILOOP_ASSETS", str(assets.root))
    monkeypatch.setenv("ILOOP_SCORING__MODEL", "smollm2-135m")  # the tiny real scorer; 0.5B is for real runs
    monkeypatch.setenv("ILOOP_FINETUNE__STEPS", "4")
    h = tmp_path / "home"
    assert runner.invoke(app, ["--home", str(h), "init"]).exit_code == 0
    return h


def flat(text: str) -> str:
    """The console's text with its line wrapping undone (rich wraps at 80 columns under the test runner)."""
    return " ".join(text.split())


def iloop(home, *args):
    return runner.invoke(app, ["--home", str(home), *args])
