"""Energy breakdown and waste, shared by the API route, the dashboard page and the demo."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fabmind.services import records


def energy_breakdown(store, start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    """Consumption per tool and shift against each meter's baseline, waste items with their saving."""
    from fabmind.models.energy import energy_report_from_store

    rep = energy_report_from_store(store, start=start, end=end)
    cons = rep.consumption
    by_tool = cons.groupby("equipment_id")["kwh"].sum().sort_values(ascending=False)
    by_shift = cons.groupby("shift")["kwh"].sum()
    by_state = cons.groupby("state")["kwh"].sum() if "state" in cons else by_shift.iloc[:0]
    return {
        "total_kwh": rep.total_kwh, "savings_kwh": rep.savings_kwh,
        "by_tool": {str(k): float(v) for k, v in by_tool.items()},
        "by_shift": {str(k): float(v) for k, v in by_shift.items()},
        "by_state": {str(k): float(v) for k, v in by_state.items()},
        "waste": [{**asdict(w), "start": w.start.isoformat(), "end": w.end.isoformat()}
                  for w in sorted(rep.waste, key=lambda w: -w.kwh)],
        "coverage": {k: float(v) for k, v in rep.coverage.items()},
    }


def meters(store) -> list[dict[str, Any]]:
    return [m.model_dump() for m in store.energy_meters()]


__all__ = ["energy_breakdown", "meters", "records"]
