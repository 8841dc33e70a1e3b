"""`iloop`: the command line. Every command reads the same configuration (settings/config.py gives the precedence).

Commands live in one module per stage and are registered here, explicitly; the modules import only cli.common
and the layers below, never this file.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cli import common, console, data, diagnose, evolve, home, loop, report, seeds, stages

app = typer.Typer(help="instruct-loop: grow an SFT set toward the skills and difficulty a model lacks.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def main(home_dir: Optional[Path] = typer.Option(None, "--home", envvar="ILOOP_HOME",
                                                 help="Store root (default ./iloop-home)."),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML config (default <home>/config.yaml)."),
         set_: List[str] = typer.Option([], "--set", help="Override a setting: KEY=VALUE (dotted keys).")) -> None:
    common.options.home, common.options.config_file, common.options.overrides = home_dir, config, list(set_)
    common.setup_logging()


# home and assets
app.command()(home.init)
app.command("config")(home.show_config)
home.assets_app.command("fetch")(home.assets_fetch)
home.assets_app.command("list")(home.assets_list)
app.add_typer(home.assets_app, name="assets")
# data
app.command()(data.ingest)
app.command()(data.stats)
app.command()(data.export)
app.command()(report.report)
app.command()(report.plan)
# the loop
app.command()(loop.run)
app.command()(loop.serve)
app.command("graph")(loop.show_graph)
app.command("console")(console.console_command)
# stages, one at a time
app.command()(stages.tag)
app.command()(stages.taxonomy)
app.command()(seeds.score)
app.command()(seeds.finetune)
app.command()(seeds.select)
app.command()(evolve.evolve)
app.command()(evolve.leakage)
app.command()(diagnose.diagnose)
app.command()(diagnose.synthesize)
app.command()(diagnose.ledger)

if __name__ == "__main__":
    app()
