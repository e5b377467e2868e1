"""``fabmind ingest PATH --kind …``: import CSV / Parquet exports (MES, FDC, QMS, work orders)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    paths: list[Path] = typer.Argument(..., help="CSV or Parquet files (one kind per call)", exists=True),
    kind: str = typer.Option(..., "--kind", "-k",
                             help="lots, steps, runs, readings, inspections, defects, yields, work_orders"),
    mapping: Path = typer.Option(None, "--mapping", "-m", help="JSON column mapping {kind: {field: column}}",
                                 exists=True),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
) -> None:
    """Import files into the store; bad rows go to the quarantine with the row number and the reason."""
    from fabmind.config import Settings
    from fabmind.ingest.files import import_file, load_mapping
    from fabmind.store import Store

    url = db or Settings().db_url
    cols = load_mapping(mapping)
    table = Table(title=f"ingest --kind {kind}")
    for c in ("file", "rows", "stored", "quarantined", "reasons"):
        table.add_column(c, justify="right" if c in {"rows", "stored", "quarantined"} else "left")
    with Store(url) as store:
        from fabmind.monitor.tables import ensure_live_tables

        ensure_live_tables(store.engine)
        for path in paths:
            with Progress(TextColumn(f"[bold]{path.name}"), BarColumn(), TextColumn("{task.completed}/{task.total} rows"),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task("import", total=None)
                result = import_file(store, path, kind, mapping=cols,
                                     progress=lambda done, total, task=task: bar.update(task, completed=done,
                                                                                             total=total))
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items()))
            table.add_row(path.name, str(result.rows), str(result.stored), str(result.quarantined), reasons or "-")
    console.print(table)
