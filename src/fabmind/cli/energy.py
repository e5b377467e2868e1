"""``fabmind energy``: consumption per tool and shift, and energy waste with the saving if fixed.

Thin: parses, calls :func:`fabmind.models.energy.energy_report_from_store`, prints rich tables.
"""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    app.command("energy")(energy)


def energy(
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    days: float = typer.Option(0.0, "--days", help="analyse only the last N days of readings (0 = all)"),
    meter: str = typer.Option("", "--meter", help="only this meter id"),
    reference_days: float = typer.Option(0.0, "--reference-days",
                                         help="days at the start used as the normal baseline (0 = first third)"),
    top: int = typer.Option(10, "--top", help="how many waste items to list"),
) -> None:
    """Energy per tool and shift, waste found against each meter's baseline, and kWh that fixing it saves."""
    import pandas as pd

    from fabmind.config import Settings
    from fabmind.models.base import ModelError
    from fabmind.models.energy import energy_report_from_store
    from fabmind.store import Store

    store = Store(db or Settings().db_url)
    try:
        start = None
        if days > 0:
            last = store.energy(meter_id=meter or None)["ts"].max()
            if pd.isna(last):
                raise ModelError("no energy readings in the store")
            start = (pd.Timestamp(last) - timedelta(days=days)).to_pydatetime()
        with console.status("fitting a baseline per meter…"):
            report = energy_report_from_store(store, start=start, meter_id=meter or None,
                                              reference_days=reference_days or None)
    except ModelError as exc:
        console.print(f"[red]energy: {exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()

    per = report.consumption.pivot_table(index="equipment_id", columns="shift", values="kwh", aggfunc="sum").fillna(0.0)
    t = Table(title=f"Energy per tool and shift (kWh), total {report.total_kwh:,.0f} kWh")
    t.add_column("equipment")
    for s in per.columns:
        t.add_column(f"shift {s}", justify="right")
    t.add_column("idle+standby", justify="right")
    t.add_column("coverage", justify="right")
    waiting = report.consumption[report.consumption["state"].isin(["idle", "standby"])].groupby("equipment_id")["kwh"].sum()
    meters = report.consumption.groupby("equipment_id")["meter_id"].first()
    for eq, row in per.iterrows():
        t.add_row(str(eq), *[f"{v:,.0f}" for v in row], f"{waiting.get(eq, 0.0):,.0f}",
                  f"{report.coverage.get(meters[eq], 1.0):.1%}")
    console.print(t)

    w = Table(title=f"Energy waste against baseline: {len(report.waste)} items, "
                    f"saving if fixed {report.savings_kwh:,.0f} kWh")
    for col in ("equipment", "kind", "from", "to", "kWh", "kWh/day", "by shift", "evidence"):
        w.add_column(col, justify="right" if col.startswith("kWh") else "left")
    for item in report.waste[:top]:
        shifts = " ".join(f"{k}:{v:,.0f}" for k, v in sorted(item.by_shift.items()))
        w.add_row(item.equipment_id, item.kind, f"{item.start:%Y-%m-%d %H:%M}", f"{item.end:%Y-%m-%d %H:%M}",
                  f"{item.kwh:,.1f}", f"{item.kwh_per_day:,.1f}", shifts, item.evidence)
    console.print(w)
