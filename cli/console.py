"""`iloop console`: the Streamlit console of this home, bound to 127.0.0.1."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from cli.common import config, options, out

# The console has no login and writes steering and run control: it listens on the loopback interface only (reach
# it from elsewhere through an SSH tunnel). No usage statistics; no file watcher (it walked the whole checkout,
# .venv included, and overflowed inotify at 40% CPU while idle).
STREAMLIT_FLAGS = ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats",
                   "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
                   "--global.developmentMode", "false", "--client.toolbarMode", "minimal"]


def console_command(port: int = typer.Option(8501, "--port", help="Port on 127.0.0.1.")) -> None:
    """Open the console (run, steer and inspect the loop) on http://127.0.0.1:PORT until Ctrl-C."""
    cfg = config()
    app = Path(__file__).resolve().parents[1] / "app.py"
    # absolute: Streamlit runs in the checkout, and so do the runs the console starts
    args = ["--home", str(cfg.home.resolve())] + \
        (["--config", str(Path(options.config_file).resolve())] if options.config_file else []) + \
        [x for s in options.overrides for x in ("--set", s)]
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), *STREAMLIT_FLAGS, "--server.port", str(port), "--",
           *args]
    out.print(f"console: http://127.0.0.1:{port}  (home {cfg.home}; Ctrl-C stops it)")
    try:
        raise typer.Exit(subprocess.call(cmd, cwd=str(app.parent)))
    except KeyboardInterrupt:
        raise typer.Exit(0)
