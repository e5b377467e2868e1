"""Yield & quality, knowledge, assistant (with streamed answers), reports."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from fabmind.api.deps import DirectoryDep, Engineer, SettingsDep, StoreDep, Viewer
from fabmind.services import reports as report_svc

router = APIRouter(prefix="/api")


# ----------------------------------------------------------------- yield & quality
@router.get("/yield/analysis", tags=["yield"])
def yield_analysis(user: Viewer, store: StoreDep, start: datetime | None = None, end: datetime | None = None,
                   metric: str = Query("yield_pct", pattern="^(yield_pct|defect_count)$"),
                   top: int = Query(10, ge=1, le=100)) -> dict:
    """Yield excursions and ranked candidate causes (commonality analysis)."""
    from dataclasses import asdict

    from fabmind.models.commonality import analyze_store

    rep = analyze_store(store, start, end, metric=metric)
    return {"excursions": [asdict(e) for e in rep.excursions][:top], "causes": [asdict(c) for c in rep.causes][:top],
            "n_candidates": rep.n_candidates, "correction": rep.correction, "seconds": rep.seconds}


@router.get("/yield/lots", tags=["yield"])
def lot_yields(user: Viewer, store: StoreDep, start: datetime | None = None, end: datetime | None = None,
               limit: int = Query(500, ge=1, le=10000)) -> list[dict]:
    from fabmind.services import records

    return records(store.yields(start, end).tail(limit))


@router.get("/quality/defects", tags=["yield"])
def defects(user: Viewer, store: StoreDep, defect_class: str | None = None, start: datetime | None = None,
            end: datetime | None = None) -> dict:
    """Defect counts by class in a window."""
    frame = store.defects(defect_class=defect_class, start=start, end=end)
    counts = frame.groupby("defect_class").size().sort_values(ascending=False) if not frame.empty else {}
    return {"total": int(len(frame)), "by_class": {k: int(v) for k, v in dict(counts).items()}}


# ----------------------------------------------------------------- knowledge
@router.get("/knowledge/search", tags=["knowledge"])
def search(request: Request, user: Viewer, store: StoreDep, q: str = Query(..., min_length=2, max_length=500),
           k: int = Query(5, ge=1, le=50)) -> list[dict]:
    """Hybrid search over manuals, SOPs, FMEA and tickets; every hit carries its citation."""
    from dataclasses import asdict

    kb = _knowledge(request, store)
    return [{**asdict(p), "citation": asdict(p.citation)} for p in kb.search(q, k=k)]


def _knowledge(request: Request, store):
    kb = getattr(request.app.state, "knowledge", None)
    if kb is None:
        from fabmind.knowledge import KnowledgeBase

        kb = request.app.state.knowledge = KnowledgeBase(store)
    return kb


# ----------------------------------------------------------------- assistant
class AskIn(BaseModel):
    question: str = Field(min_length=3, max_length=4000)
    conversation_id: str | None = Field(None, max_length=64)
    hours: float = Field(12.0, gt=0, le=24 * 90)


def _answer_json(ans) -> dict[str, Any]:
    from dataclasses import asdict

    from fabmind.reports.html import markdown_to_html

    unverified = [str(getattr(c, "text", c)) for c in ans.claims.unverified]
    return {"question": ans.question, "text": ans.text, "html": markdown_to_html(ans.text, unverified),
            "mode": ans.mode, "mode_label": ans.mode_label,
            "model": ans.model, "conversation_id": ans.conversation_id, "warnings": ans.warnings,
            "claims": {"total": ans.claims.n_claims, "verified": ans.claims.n_verified,
                       "unverified": unverified},
            "diagnoses": [asdict(d) for d in ans.diagnoses],
            "proposals": [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in ans.proposals],
            "seconds": round(ans.seconds, 3)}


def _assistant(request: Request, store, settings):
    from fabmind.agents import FaultAssistant

    return FaultAssistant(store, settings)


@router.post("/assistant/ask", tags=["assistant"])
def ask(body: AskIn, request: Request, user: Engineer, store: StoreDep, settings: SettingsDep,
        directory: DirectoryDep) -> dict:
    """Ask the equipment fault assistant; answers cite tool results and their claims are checked.
    Actions it suggests come back as proposals awaiting approval."""
    area = None if "*" in user.areas else user.areas[0]
    ans = _assistant(request, store, settings).ask(body.question, user=user.username, role=user.role, area_id=area,
                                                   conversation_id=body.conversation_id, hours=body.hours)
    directory.audit(user, "assistant.ask", target=ans.conversation_id or "", detail={"question": body.question[:500]})
    return _answer_json(ans)


@router.post("/assistant/ask/stream", tags=["assistant"])
async def ask_stream(body: AskIn, request: Request, user: Engineer, store: StoreDep, settings: SettingsDep) -> StreamingResponse:
    """The same as ``/ask`` as Server-Sent Events: ``event: text`` chunks while the answer is written, then
    ``event: answer`` with the full, checked answer (or ``event: error``)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    area = None if "*" in user.areas else user.areas[0]

    def work():
        try:
            ans = _assistant(request, store, settings).ask(
                body.question, user=user.username, role=user.role, area_id=area, conversation_id=body.conversation_id,
                hours=body.hours, on_text=lambda t: loop.call_soon_threadsafe(queue.put_nowait, ("text", t)))
            loop.call_soon_threadsafe(queue.put_nowait, ("answer", _answer_json(ans)))
        except Exception as exc:  # noqa: BLE001 - reported to the client as an event
            loop.call_soon_threadsafe(queue.put_nowait, ("error", {"detail": f"{type(exc).__name__}: {exc}"}))

    threading.Thread(target=work, daemon=True).start()

    async def events():
        while True:
            kind, payload = await queue.get()
            yield f"event: {kind}\ndata: {json.dumps(payload, default=str)}\n\n"
            if kind in ("answer", "error"):
                return

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# ----------------------------------------------------------------- reports
class ReportIn(BaseModel):
    days: float = Field(30.0, gt=0, le=365)


@router.get("/reports", tags=["reports"])
def reports(user: Viewer, settings: SettingsDep) -> list[dict]:
    return report_svc.list_reports(settings)


@router.post("/reports", tags=["reports"], status_code=201)
def new_report(body: ReportIn, user: Engineer, store: StoreDep, settings: SettingsDep, directory: DirectoryDep) -> dict:
    """Run the yield analysis agent over the last ``days`` and keep its report (HTML, Markdown, PDF)."""
    meta = report_svc.generate_yield_report(store, settings, body.days, user=user.username)
    directory.audit(user, "report.create", target=meta["report_id"])
    return meta


@router.get("/reports/{report_id}.{fmt}", tags=["reports"])
def report_file(report_id: str, fmt: str, user: Viewer, settings: SettingsDep) -> FileResponse:
    path = report_svc.report_file(settings, report_id, fmt)
    media = {"html": "text/html", "md": "text/markdown", "pdf": "application/pdf"}[fmt]
    return FileResponse(path, media_type=media, filename=f"{report_id}.{fmt}" if fmt != "html" else None)
