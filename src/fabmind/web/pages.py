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
    return render(request, "chamber.html", user, "/", c=info, charts=chamber_charts(store, chamber_id, request.app.state.settings))


@router.get("/alarms", response_class=HTMLResponse)
def alarms(request: Request, user: PageUser, state: str = "open"):
    from fabmind.services.alarms import list_alarms

    states = ["raised", "acknowledged", "shelved"] if state == "open" else None
    frame = list_alarms(request.app.state.store, state=states).head(300)
    return render(request, "alarms.html", user, "/alarms", alarms=frame.to_dict(orient="records"), state=state)


@router.get("/alarms/{alarm_id:path}", response_class=HTMLResponse)
def alarm(alarm_id: str, request: Request, user: PageUser):
    from fabmind.services.alarms import alarm_detail
    from fabmind.web.charts import bar_chart

    a = alarm_detail(request.app.state.store, alarm_id)
    bars = [(c["sensor"], float(c["contribution"])) for c in a["contributions"][:8]]
    return render(request, "alarm.html", user, "/alarms", a=a,
                  contrib_svg=bar_chart(bars, title="contribution to the statistic") if bars else "")
