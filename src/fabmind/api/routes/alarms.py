"""Alarms: list, detail, life-cycle actions, verdicts, and a live Server-Sent-Events stream."""

from __future__ import annotations

import asyncio
import json
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from fabmind.api.auth import User
from fabmind.api.cache import cached_json
from fabmind.api.deps import DirectoryDep, Engineer, StoreDep, Viewer
from fabmind.api.paging import Limit, Offset
from fabmind.services import alarms as svc

router = APIRouter(prefix="/api/alarms", tags=["alarms"])


@router.get("", response_model=dict)
async def list_alarms(request: Request, user: Viewer, store: StoreDep, state: list[str] | None = Query(None),
                      chamber_id: str | None = None, limit: Limit = 100, offset: Offset = 0) -> Response:
    """Alarms, newest first; ``state`` may repeat (raised, acknowledged, shelved, cleared). With an ``ETag``;
    the page is reused until the next write to the store (a new alarm or an acknowledgement shows at once)."""
    key = ("alarms", tuple(state) if state is not None else None, chamber_id, limit, offset)
    return await cached_json(request, key, lambda: svc.alarm_page(store, state=state, chamber_id=chamber_id,
                                                                   limit=limit, offset=offset))


@router.get("/stream")
async def stream(request: Request, user: Viewer, store: StoreDep,
                 seconds: float = Query(60, ge=0.1, le=3600, description="stream length; the browser reconnects")):
    """Alarms raised or changed from now on, as ``event: alarm`` (Server-Sent Events; the store's alarm
    events are polled every second, so alarms from a monitor in another process arrive too)."""

    async def events():
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        last = await run_in_threadpool(svc.last_event_id, store)
        yield "retry: 2000\n\n"
        while loop.time() < end and not await request.is_disconnected():
            last, changed = await run_in_threadpool(svc.changed_since, store, last)
            for row in changed:
                yield f"event: alarm\ndata: {json.dumps(row, default=str)}\n\n"
            await asyncio.sleep(min(1.0, max(0.05, end - loop.time())))
        yield "event: end\ndata: {}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/{alarm_id}")
def alarm(alarm_id: str, user: Viewer, store: StoreDep) -> dict:
    """One alarm with its contributions, life-cycle history, diagnosis and verdict."""
    return svc.alarm_detail(store, alarm_id)


class ActionIn(BaseModel):
    note: str = Field("", max_length=2000)
    minutes: int = Field(60, ge=1, le=10080, description="shelve only")
    reason: str = Field("", max_length=2000, description="alias of note")


def _check_area(store, user: User, alarm_id: str) -> None:
    detail = svc.alarm_detail(store, alarm_id)
    if not user.in_area(detail["area"]):
        raise HTTPException(403, f"{user.username} acts in areas {','.join(user.areas)}, alarm {alarm_id} is in {detail['area']}")


class VerdictIn(BaseModel):
    verdict: str = Field(pattern="^(true_fault|false_alarm|unsure)$")
    root_cause: str = Field("", max_length=2000)
    failure_mode: str = Field("", max_length=200)
    note: str = Field("", max_length=2000)


@router.post("/{alarm_id}/verdict")
def verdict(alarm_id: str, body: VerdictIn, user: Engineer, store: StoreDep, directory: DirectoryDep) -> dict:
    """The engineer's judgement (true fault / false alarm + root cause): stored for retraining."""
    _check_area(store, user, alarm_id)
    out = svc.give_verdict(store, alarm_id, user.username, body.verdict, body.root_cause, body.failure_mode, body.note)
    directory.audit(user, "alarm.verdict", target=alarm_id, detail=body.model_dump())
    return out


@router.post("/{alarm_id}/{action}")
def alarm_action(alarm_id: str, action: str, user: Engineer, store: StoreDep, directory: DirectoryDep,
                 body: ActionIn | None = None) -> dict:
    """``action`` is acknowledge, shelve or clear (engineers of the alarm's area)."""
    if action not in svc.ACTIONS:
        raise HTTPException(404, f"unknown alarm action {action!r}; use one of {', '.join(svc.ACTIONS)}")
    body = body or ActionIn()
    _check_area(store, user, alarm_id)
    out = svc.act(store, alarm_id, action, user.username, minutes=body.minutes, note=body.note or body.reason)
    directory.audit(user, f"alarm.{action}", target=alarm_id, detail={"note": body.note or body.reason})
    return out
