"""The fab at a glance: areas, tools, chambers and their health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fabmind.services import records

OPEN_STATES = ("raised", "acknowledged")


def _open_alarms(store) -> Any:
    frame = store.alarms(state=list(OPEN_STATES))
    return frame


def _open_alarm_counts(con) -> dict[str, tuple[int, int]]:
    """chamber_id -> (open alarms, worst severity), aggregated in SQL (the overview is polled: keep it cheap)."""
    from sqlalchemy import func, select

    from fabmind.store.schema import alarms

    q = (select(alarms.c.chamber_id, func.count(), func.max(alarms.c.severity))
         .where(alarms.c.state.in_(OPEN_STATES)).group_by(alarms.c.chamber_id))
    return {cid: (int(n), int(sev)) for cid, n, sev in con.execute(q)}


def chamber_status(n_open: int, worst_severity: int) -> str:
    """ok / warn / bad from the chamber's open alarms (severity 1 = low … 4 = critical)."""
    if n_open == 0:
        return "ok"
    return "bad" if worst_severity >= 3 else "warn"


def _chamber_rows(con) -> list:
    """(chamber_id, equipment_id, type_id, area_id) per chamber, as ``store.chambers_frame()`` without the
    DataFrame (~1 ms less per overview)."""
    from sqlalchemy import select

    from fabmind.store.schema import chambers as ch
    from fabmind.store.schema import equipment as eq

    q = (select(ch.c.chamber_id, ch.c.equipment_id, ch.c.type_id, eq.c.area_id)
         .select_from(ch.outerjoin(eq, eq.c.equipment_id == ch.c.equipment_id)).order_by(ch.c.chamber_id))
    return con.execute(q).all()


def fab_overview(store) -> dict[str, Any]:
    with store.engine.connect() as con:  # one snapshot for both queries
        chambers = _chamber_rows(con)
        by_chamber = _open_alarm_counts(con)
    areas: dict[str, dict] = {}
    for row in chambers:
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


def run_page(store, chamber_id: str | None = None, lot_id: str | None = None, start: datetime | None = None,
             end: datetime | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """One page of runs ordered by start (as ``store.runs(...)``, ``equipment_id`` added), counted and paged
    in SQL: the same answer as paging the whole ``store.runs()`` DataFrame, without reading every run
    (46k runs on the 30-day demo fab: ~2 s -> a few ms)."""
    from sqlalchemy import and_, func, select

    from fabmind.store.schema import runs

    r = runs.c
    cond = []
    if start is not None:
        cond.append(r.start >= start)
    if end is not None:
        cond.append(r.start < end)
    if chamber_id is not None:
        cond.append(r.chamber_id == chamber_id)
    if lot_id is not None:
        cond.append(r.lot_id == lot_id)
    where = and_(True, *cond)
    with store.engine.connect() as con:
        total = con.execute(select(func.count()).select_from(runs).where(where)).scalar_one()
        result = con.execute(select(runs).where(where).order_by(r.start, r.run_id).limit(limit).offset(offset))
        keys = [str(k) for k in result.keys()]
        rows = result.all()
    items = []
    for row in rows:
        item = dict(zip(keys, row))
        item = {"run_id": item["run_id"], "chamber_id": item["chamber_id"],
                "equipment_id": item["chamber_id"].split("/")[0], **item}
        for k in ("start", "end"):
            item[k] = item[k].isoformat() if item[k] is not None else None
        items.append(item)
    return {"items": items, "total": int(total), "limit": limit, "offset": offset}
