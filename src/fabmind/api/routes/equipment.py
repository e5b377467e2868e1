"""Equipment & chambers, runs & traces."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response

from fabmind.api.cache import cached_json
from fabmind.api.deps import StoreDep, Viewer
from fabmind.api.paging import Limit, Offset, page_of
from fabmind.services.fab import chamber_health, fab_overview, run_page

router = APIRouter(prefix="/api", tags=["equipment"])


@router.get("/overview", response_model=dict)
async def overview(request: Request, user: Viewer, store: StoreDep) -> Response:
    """Areas → tools → chambers with health and open-alarm counts (with an ``ETag``; the answer is reused
    until the next write to the store)."""
    return await cached_json(request, ("overview",), lambda: fab_overview(store))


@router.get("/chambers")
def chambers(user: Viewer, store: StoreDep, limit: Limit = 100, offset: Offset = 0) -> dict:
    return page_of(store.chambers_frame(), limit, offset)


@router.get("/chambers/{tool}/{letter}")
def chamber(tool: str, letter: str, user: Viewer, store: StoreDep) -> dict:
    """One chamber: sensors, health, open alarms, recent work orders."""
    return chamber_health(store, f"{tool}/{letter}")


@router.get("/runs")
def runs(user: Viewer, store: StoreDep, chamber_id: str | None = None, lot_id: str | None = None,
         start: datetime | None = None, end: datetime | None = None, limit: Limit = 100, offset: Offset = 0) -> dict:
    """Runs ordered by start, paged in SQL."""
    return run_page(store, chamber_id=chamber_id, lot_id=lot_id, start=start, end=end, limit=limit, offset=offset)


@router.get("/runs/{run_id}/trace")
def run_trace(run_id: str, user: Viewer, store: StoreDep) -> dict:
    """A run's sensor trace: sensors, sample interval, values per sensor."""
    trace = store.traces([run_id]).get(run_id)
    if trace is None:
        raise HTTPException(404, f"no trace stored for run {run_id!r}")
    return {"run_id": run_id, "chamber_id": trace.chamber_id, "start": trace.start.isoformat(), "dt_s": trace.dt_s,
            "step_index": trace.step_index.tolist(),
            "sensors": {name: trace.values[:, j].round(4).tolist() for j, name in enumerate(trace.sensors)}}


@router.get("/work-orders")
def work_orders(user: Viewer, store: StoreDep, equipment_id: str | None = None, chamber_id: str | None = None,
                limit: Limit = 100, offset: Offset = 0) -> dict:
    return page_of(store.work_orders(equipment_id=equipment_id, chamber_id=chamber_id), limit, offset)
