"""The `tickethub` command. Each command group lives in its own module."""

from __future__ import annotations

import typer

from hub.cli import bench, db, demo, outbox, plugins, serve

app = typer.Typer(
    name="tickethub",
    help="Integration hub for scenic-area ticketing.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(outbox.app, name="outbox")
app.add_typer(bench.app, name="bench")
app.command("plugins")(plugins.plugins)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)


def main() -> None:
    app()
