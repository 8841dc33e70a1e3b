"""What the CLI tests share besides the ``home`` fixture (tests/cli/conftest.py): the runner and two helpers."""
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def flat(text: str) -> str:
    """The console's text with its line wrapping undone (rich wraps at 80 columns under the test runner)."""
    return " ".join(text.split())


def iloop(home, *args):
    return runner.invoke(app, ["--home", str(home), *args])
