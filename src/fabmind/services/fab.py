"""The fab at a glance: areas, tools, chambers and their health."""

from __future__ import annotations

from typing import Any

from fabmind.services import records

OPEN_STATES = ("raised", "acknowledged")


def _open_alarms(store) -> Any:
    frame = store.alarms(state=list(OPEN_STATES))
    return frame


def _open_alarm_counts(store) -> dict[str, tuple[int, int]]:
    """chamber_id -> (open alarms, worst severity), aggregated in SQL (the overview is polled: keep it cheap)."""
    from sqlalchemy import func, select

    from fabmind.store.schema import alarms

    q = (select(alarms.c.chamber_id, func.count(), func.max(alarms.c.severity))
         .where(alarms.c.state.in_(OPEN_STATES)).group_by(alarms.c.chamber_id))
    with store.engine.connect() as con:
        return {cid: (int(n), int(sev)) for cid, n, sev in con.execute(q)}


def chamber_status(n_open: int, worst_severity: int) -> str:
    """ok / warn / bad from the chamber's open alarms (severity 1 = low … 4 = critical)."""
    if n_open == 0:
        return "ok"
    return "bad" if worst_severity >= 3 else "warn"


def fab_overview(store) -> dict[str, Any]:
    chambers = store.chambers_frame()
    by_chamber = _open_alarm_counts(store)
    areas: dict[str, dict] = {}
    for row in chambers.itertuples(index=False):
        n_open, sev = by_chamber.get(row.chamber_id, (0, 0))
        area = areas.setdefault(row.area_id, {"area_id": row.area_id, "tools": {}})
        tool = area["tools"].setdefault(row.equipment_id, {"equipment_id": row.equipment_id, "type_id": row.type_id,
                                                           "chambers": []})
        tool["chambers"].append({"chamber_id": row.chamber_id, "open_alarms": n_open, "worst_severity": sev,
                                 "health": chamber_status(n_open, sev)})
    out = []
    for area in sorted(areas.values(), key=lambda a: a["area_id"]):
        out.append({"area_id": area["area_id"], "tools": sorted(area["tools"].values(), key=lambda t: t["equipment_id"])})
    return {"areas": out, "open_alarms": sum(n for n, _ in by_chamber.values()), "chambers": int(len(chambers))}


def chamber_health(store, chamber_id: str) -> dict[str, Any]:
    chamber = store.chamber(chamber_id)  # raises LookupError for an unknown chamber
    alarms = store.alarms(chamber_id=chamber_id, state=list(OPEN_STATES))
    sev = int(alarms["severity"].max()) if not alarms.empty else 0
    sensors = store.sensors(chamber.type_id)
    wos = store.work_orders(chamber_id=chamber_id)
    return {
        "chamber_id": chamber_id, "equipment_id": chamber.equipment_id, "type_id": chamber.type_id,
        "health": chamber_status(len(alarms), sev), "open_alarms": records(alarms),
        "sensors": [{"name": s.name, "unit": s.unit, "low": s.low, "high": s.high, "subsystem": s.subsystem}
                    for s in sensors],
        "work_orders": records(wos.tail(20)),
    }
