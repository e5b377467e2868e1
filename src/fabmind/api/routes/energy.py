"""Energy: consumption per tool/shift/state against baselines, waste with estimated savings."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from fabmind.api.deps import StoreDep, Viewer
from fabmind.services import energy as svc

router = APIRouter(prefix="/api/energy", tags=["energy"])


@router.get("/breakdown")
def breakdown(user: Viewer, store: StoreDep, start: datetime | None = None, end: datetime | None = None) -> dict:
    return svc.energy_breakdown(store, start, end)


@router.get("/meters")
def meters(user: Viewer, store: StoreDep) -> list[dict]:
    return svc.meters(store)
