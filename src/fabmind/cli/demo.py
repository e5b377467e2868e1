"""``fabmind demo``: build the demo fab and show the product working on it."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    days: int = typer.Option(30, help="days of fab history to simulate"),
    seed: int = typer.Option(0, help="random seed (same seed, same fab)"),
    db: str = typer.Option("", "--db", help="database URL (default: sqlite:///fabmind-demo.db)"),
    scale: str = typer.Option("demo", help="'demo' (≥12 tools), 'small', or a number of chambers"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the dashboard at the end"),
) -> None:
    """Simulate a fab (tools, chambers, sensors, lots, yields, faults, documents), store it and show a summary."""
    from fabmind.sim import simulate
    from fabmind.store import Store

    url = db or "sqlite:///fabmind-demo.db"
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)  # the demo always starts from a fresh file
    t0 = time.perf_counter()
    with console.status(f"simulating {days} days of the demo fab (seed {seed})…"):
        result = simulate(days=days, seed=seed, scale=int(scale) if scale.isdigit() else scale)
    t_sim = time.perf_counter() - t0
    store = Store(url)
    t1 = time.perf_counter()
    with console.status(f"writing to {url}…"):
        counts = store.write_batch(result.batch)
    t_store = time.perf_counter() - t1
    _print_summary(result, counts, t_sim, t_store)


def _print_summary(result, counts: dict, t_sim: float, t_store: float) -> None:
    batch = result.batch
    n_values = sum(int(t.values.size) for t in batch.traces)
    table = Table(title="demo fab", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, n in [
        ("areas", len(batch.areas)),
        ("tools", len(batch.equipment)),
        ("chambers", len(batch.chambers)),
        ("sensors (per chamber type)", len(batch.sensors)),
        ("lots", len(batch.lots)),
        ("runs", len(batch.runs)),
        ("sensor readings", n_values),
        ("inspections", len(batch.inspections)),
        ("defects", len(batch.defects)),
        ("work orders", len(batch.work_orders)),
        ("energy readings", len(batch.energy_readings)),
        ("documents", len(batch.documents)),
        ("injected faults", len(result.faults)),
    ]:
        table.add_row(label, f"{n:,}")
    console.print(table)
    console.print(f"simulated in {t_sim:.1f} s, stored in {t_store:.1f} s")
    faults = Table(title="injected faults (ground truth)")
    for col in ("fault", "type", "chamber", "start", "severity"):
        faults.add_column(col)
    for f in result.faults:
        faults.add_row(f.fault_id, f.fault_type, f.chamber_id, f"{f.start:%Y-%m-%d %H:%M}", f"{f.severity:.2f}")
    console.print(faults)
