"""``fabmind db``: look after the store (revision and row counts, migrations, quarantine, Parquet export)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
db_app = typer.Typer(help="The fab's database: info, upgrade, quarantine, export.", no_args_is_help=True)

_DB = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL or sqlite:///fabmind-demo.db)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _open(db: str):
    from fabmind.config import Settings
    from fabmind.store import Store

    return Store(db or Settings().db_url)


@db_app.command("info")
def info(db: str = _DB) -> None:
    """Show the schema revision and the rows in every table."""
    with _open(db) as store:
        table = Table(title=f"{store!r}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in store.counts().items():
            table.add_row(name, f"{n:,}")
        console.print(table)


@db_app.command("upgrade")
def upgrade(db: str = _DB) -> None:
    """Apply the numbered migrations (opening the store does this too)."""
    with _open(db) as store:
        console.print(f"database at revision [bold]{store.revision}[/]")


@db_app.command("quarantine")
def quarantine(db: str = _DB, source: str = typer.Option(None, help="only this source"),
               limit: int = typer.Option(20, help="rows to show (newest first)")) -> None:
    """List rejected records with their reasons."""
    with _open(db) as store:
        frame = store.quarantined(source=source)
    console.print(f"{len(frame):,} quarantined; by reason: {frame.code.value_counts().to_dict() if len(frame) else {}}")
    table = Table()
    for col in ("received", "source", "kind", "code", "reason"):
        table.add_column(col)
    for row in frame.tail(limit).iloc[::-1].itertuples():
        table.add_row(str(row.received), row.source, row.kind, row.code, row.reason)
    console.print(table)


@db_app.command("export")
def export(table: str = typer.Argument(..., help="table name, e.g. runs"),
           path: Path = typer.Argument(..., help="Parquet file to write"), db: str = _DB) -> None:
    """Export a table to Parquet."""
    with _open(db) as store:
        out = store.export_parquet(table, path)
    console.print(f"wrote {out}")
