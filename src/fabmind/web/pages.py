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


@router.get("/yield", response_class=HTMLResponse)
def yield_page(request: Request, user: PageUser):
    from fabmind.models.commonality import CommonalityError, analyze_store
    from fabmind.web.charts import bar_chart, line_chart

    store = request.app.state.store
    lots = store.yields()
    chart = ""
    if not lots.empty:
        y = lots["yield_pct"].astype(float)
        center, sigma = float(y.median()), float(1.4826 * (y - y.median()).abs().median()) or float(y.std())
        chart = line_chart({"lot yield %": y.tolist()}, limits={"LCL (center − 3σ)": center - 3 * sigma,
                                                                 "center": center},
                           labels=(str(lots["ts"].iloc[0])[:10], str(lots["ts"].iloc[-1])[:10]),
                           title="Lot yield with control limits", width=900, height=220)
    try:
        rep = analyze_store(store)
        excursions, causes = rep.excursions[:15], rep.causes[:10]
    except CommonalityError as exc:
        excursions, causes, error = [], [], str(exc)
    else:
        error = ""
    ranking = bar_chart([(c.label()[:28], float(c.effect_size)) for c in causes], unit=" pts",
                        title="Candidate causes: yield effect (ranked by evidence)") if causes else ""
    return render(request, "yield.html", user, "/yield", chart=chart, excursions=excursions, causes=causes,
                  ranking=ranking, error=error)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: PageUser):
    from fabmind.services.reports import list_reports

    return render(request, "reports.html", user, "/reports", reports=list_reports(request.app.state.settings))


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_view(report_id: str, request: Request, user: PageUser):
    from fabmind.services.reports import report_file

    return HTMLResponse(report_file(request.app.state.settings, report_id, "html").read_text(encoding="utf-8"))


@router.get("/assistant", response_class=HTMLResponse)
def assistant_page(request: Request, user: PageUser, alarm: str = ""):
    question = ""
    if alarm:
        from fabmind.services.alarms import alarm_detail

        a = alarm_detail(request.app.state.store, alarm)
        question = f"{a['chamber_id']} {a['source']} alarm at {a['ts'][:16].replace('T', ' ')}: what is wrong and what do I do?"
    return render(request, "assistant.html", user, "/assistant", question=question)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, user: PageUser):
    from fabmind.api.routes.approvals import _book, proposal_area

    store = request.app.state.store
    items = [(p, proposal_area(store, p)) for p in _book(store).list()]
    items.sort(key=lambda pa: (pa[0].status != "pending", pa[0].created), reverse=False)
    return render(request, "approvals.html", user, "/approvals", items=items)


@router.get("/energy", response_class=HTMLResponse)
def energy_page(request: Request, user: PageUser):
    from fabmind.models.base import ModelError
    from fabmind.services.energy import energy_breakdown
    from fabmind.web.charts import bar_chart

    try:
        data, error = energy_breakdown(request.app.state.store), ""
    except ModelError as exc:
        data, error = None, str(exc)
    charts = {}
    if data:
        charts["tools"] = bar_chart(list(data["by_tool"].items())[:15], unit=" kWh", title="consumption by tool")
        charts["shifts"] = bar_chart(list(data["by_shift"].items()), unit=" kWh", title="consumption by shift")
    return render(request, "energy.html", user, "/energy", data=data, error=error, charts=charts)
