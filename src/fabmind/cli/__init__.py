"""The ``fabmind`` command line. One module per command group; each exposes ``register(app)``.

The CLI only parses, calls the Python API and prints (rich tables, progress bars).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fabmind",
    help="fabmind: industrial AI for display and semiconductor fabs.\n\n"
    "Start with `fabmind demo` to build a simulated fab, train the small models, watch them "
    "find the injected faults and open the dashboard.",
    no_args_is_help=True,
    add_completion=False,
)

# command groups, in the order they appear in --help
_GROUPS = ["demo", "models", "learning", "monitor", "ingest", "yield_cmds", "energy", "assistant", "docs", "defect_maps", "db", "serve"]


def _register_all() -> None:
    for name in _GROUPS:
        importlib.import_module(f"fabmind.cli.{name}").register(app)


_register_all()


def main() -> None:  # console-script entry point
    app()
