"""The engineers' pages: overview, alarms, chamber, yield, energy, reports, assistant, approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from fabmind.api.auth import User
from fabmind.services.fab import chamber_health, fab_overview
from fabmind.web.routes import page_user, render

router = APIRouter(include_in_schema=False)
PageUser = Annotated[User, Depends(page_user)]


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, user: PageUser):
    store = request.app.state.store
    data = fab_overview(store)
    alarms = store.alarms(state=["raised", "acknowledged"]).sort_values("ts", ascending=False).head(15)
    return render(request, "overview.html", user, "/", fab=data, alarms=alarms.to_dict(orient="records"))


@router.get("/chambers/{tool}/{letter}", response_class=HTMLResponse)
def chamber(tool: str, letter: str, request: Request, user: PageUser):
    from fabmind.web.chamber_view import chamber_charts

    store = request.app.state.store
    chamber_id = f"{tool}/{letter}"
    info = chamber_health(store, chamber_id)
    return render(request, "chamber.html", user, "/", c=info, charts=chamber_charts(store, chamber_id))
