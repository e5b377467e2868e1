"""The built-in analyst's fixed plan for a yield report (no LLM needed).

Plan: yield summary and trend → excursions → commonality analysis (ranked causes) → for each
suspect chamber: FDC health over the affected stretch, sensor trend of the top sensor, failure
modes, similar incidents, the manual's procedure → report sections from templates.
"""

from __future__ import annotations

import pandas as pd

from fabmind.agents.analyst_fault import _fmt_dt
from fabmind.agents.figures import figure_id
from fabmind.agents.report import Diagnosis, Section
from fabmind.agents.results import ChamberHealth, FailureModeCandidate
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps

SECTION_TITLES = ("Summary", "Affected products and lots", "Root causes", "Recommended actions", "Open questions")
MAX_SUSPECTS = 3


def run_yield_plan(days: float, toolbox: Toolbox, deps: ToolDeps, evidence: Evidence) -> tuple[list[Section], list[Diagnosis]]:
    call = lambda name, **kw: toolbox.call(name, kw, deps, evidence)
    summ = call("get_yield_summary", days=days)
    exc = call("yield_excursions", days=days)
    com = call("commonality_analysis", days=days, top=5)
    call("get_yield_trend", days=days)  # the daily yield chart
    causes = com.value["causes"] if com.ok else []
    suspects = []  # (cause, health result, fm result, modes, trend result, incident result)
    seen: set[str] = set()
    for c in causes:
        if len(suspects) >= MAX_SUSPECTS:
            break
        if not c.get("chamber_id") or c["chamber_id"] in seen:
            continue
        seen.add(c["chamber_id"])
        onset, end = c.get("onset"), c.get("end")
        hours = 48.0
        if onset is not None and end is not None:  # the affected stretch against the runs before it
            hours = max(12.0, min(24.0 * 14, (pd.Timestamp(end) - pd.Timestamp(onset)).total_seconds() / 3600))
        h = call("get_chamber_health", chamber_id=c["chamber_id"], hours=hours,
                 end=(pd.Timestamp(end).to_pydatetime() if end is not None else None))
        fm = tr = inc = None
        modes: list[FailureModeCandidate] = []
        if h.ok:
            health: ChamberHealth = h.value
            devs = health.signed_deviations() or {s.sensor: s.deviation_sigma for s in health.top_sensors[:3]
                                                  if s.deviation_sigma != 0}
            if health.abnormal and devs:
                fm = call("failure_modes_for", equipment_type=health.type_id, deviations=devs)
                modes = fm.value if fm.ok else []
                inc = call("similar_incidents", deviations=devs, equipment_type=health.type_id, k=2)
            if health.top_sensors:
                start_trend = pd.Timestamp(end).to_pydatetime() if end is not None else None
                tr = call("get_sensor_trend", chamber_id=c["chamber_id"], sensor=health.top_sensors[0].sensor,
                          hours=hours * 2, end=start_trend)
        suspects.append((c, h, fm, modes, tr, inc))

    diagnoses = _diagnoses(suspects)
    sections = [
        Section("Summary", _summary(days, summ, exc, com, suspects, diagnoses), ["yield-trend"]),
        Section("Affected products and lots", _affected(summ, exc)),
        Section("Root causes", _causes(com, suspects), ["yield-causes"] + _suspect_figures(suspects)),
        Section("Recommended actions", _actions(suspects, call)),
        Section("Open questions", _open_questions(com, exc, suspects)),
    ]
    for s in sections:
        s.figures = [f for f in s.figures if f]
    return sections, diagnoses


def _suspect_figures(suspects: list) -> list[str]:  # type: ignore[type-arg]
    out = []
    for c, h, *_ in suspects:
        if h.ok:
            out.append(figure_id("contrib", c["chamber_id"]))
            if h.value.top_sensors:
                out.append(figure_id("trend", c["chamber_id"], h.value.top_sensors[0].sensor))
    return out


def _diagnoses(suspects: list) -> list[Diagnosis]:  # type: ignore[type-arg]
    out: list[Diagnosis] = []
    for c, h, fm, modes, _, _ in suspects:
        if not h.ok:
            continue
        for m in modes[:2]:
            out.append(Diagnosis(rank=len(out) + 1, chamber_id=c["chamber_id"], equipment_id=h.value.equipment_id,
                                 subsystem=m.subsystem, failure_mode=m.failure_mode, confidence=m.confidence,
                                 evidence=(h.result_id, fm.result_id), actions=m.actions, checks=m.checks))
    return out


def _summary(days, summ, exc, com, suspects, diagnoses) -> str:  # type: ignore[no-untyped-def]
    parts = []
    if summ.ok and summ.value.n_lots:
        s = summ.value
        parts.append(f"From {_fmt_dt(s.window_start)} to {_fmt_dt(s.window_end)} the fab finished {s.n_lots} lots "
                     f"at a mean yield of {s.mean_yield_pct} % [{summ.result_id}].")
    elif summ.ok:
        parts.append(f"No lot finished in the window [{summ.result_id}].")
    if exc.ok:
        n = exc.value["n_excursions"]
        parts.append(f"{n} yield excursions were found [{exc.result_id}]." if n
                     else f"No yield excursion was found [{exc.result_id}].")
    if com.ok and com.value["causes"]:
        c = com.value["causes"][0]
        parts.append(f"The strongest cause is **{c['label']}**: {c['effect_size']} yield points against its peers "
                     f"({c['effect_sigma']} σ, adjusted p = {c['p_adjusted']}) on {c['n_affected_lots']} lots"
                     + (f" since {_fmt_dt(c['onset'])}" if c.get("onset") is not None else "") + f" [{com.result_id}].")
    elif com.ok:
        parts.append(f"Commonality analysis found no significant cause [{com.result_id}].")
    elif not com.ok:
        parts.append(f"Commonality analysis could not run: {com.error} [{com.result_id}].")
    if diagnoses:
        d = diagnoses[0]
        parts.append(f"FDC evidence on {d.chamber_id} points to **{d.failure_mode}** ({d.subsystem} subsystem, "
                     f"confidence {d.confidence}) [{d.evidence[-1]}].")
    return " ".join(parts)


def _affected(summ, exc) -> str:  # type: ignore[no-untyped-def]
    lines = []
    if exc.ok and exc.value["excursions"]:
        lines += ["| excursion | from | to | lots | mean yield % | worst % | limit % |", "|---|---|---|---|---|---|---|"]
        for e in exc.value["excursions"][:10]:
            lines.append(f"| {e['excursion_id']} | {_fmt_dt(e['start'])} | {_fmt_dt(e['end'])} | {e['n_lots']} | "
                         f"{e['mean_value']} | {e['worst_value']} | {e['control_limit']} |")
        lines.append(f"\nSource: [{exc.result_id}]. Example lots: "
                     + ", ".join(l for e in exc.value["excursions"][:3] for l in e["lots_sample"][:3]) + f" [{exc.result_id}].")
    else:
        lines.append("No lots below the control limit in the window" + (f" [{exc.result_id}]." if exc.ok else "."))
    if summ.ok and summ.value.products:
        lines.append("\nMean lot yield per product: " + ", ".join(
            f"{p} {v} %" for p, v in summ.value.products.items()) + f" [{summ.result_id}].")
    return "\n".join(lines)


def _causes(com, suspects) -> str:  # type: ignore[no-untyped-def]
    if not com.ok or not com.value["causes"]:
        return "No significant cause was found by the commonality analysis" + (f" [{com.result_id}]." if com.ok else ".")
    lines = []
    by_chamber = {s[0]["chamber_id"]: s for s in suspects}
    for c in com.value["causes"]:
        lines.append(f"{c['rank']}. **{c['label']}** ({c['kind']}): effect {c['effect_size']} yield points "
                     f"({c['effect_sigma']} σ), adjusted p = {c['p_adjusted']}, {c['n_affected_lots']} lots"
                     + (f", onset {_fmt_dt(c['onset'])}" if c.get("onset") is not None else "") + f" [{com.result_id}].")
        s = by_chamber.get(c.get("chamber_id"))
        if s is None or s[0] is not c:
            continue
        _, h, fm, modes, _, inc = s
        if not h.ok:
            lines.append(f"   - FDC evidence unavailable: {h.error} [{h.result_id}]")
            continue
        hv: ChamberHealth = h.value
        state = "out of control" if hv.abnormal else "within control limits"
        lines.append(f"   - FDC: {hv.chamber_id} {state} over the affected stretch, MSPC score {hv.score} "
                     f"({hv.share_out_of_control:.0%} of {hv.n_runs} runs over a limit) [{h.result_id}]; top sensors: "
                     + ", ".join(f"{x.sensor} {x.deviation_sigma:+} σ" for x in hv.top_sensors[:3]) + f" [{h.result_id}]")
        if modes:
            m = modes[0]
            lines.append(f"   - Failure mode: {m.failure_mode} ({m.subsystem}), confidence {m.confidence} "
                         f"[{fm.result_id}]" + (f"; alternative: {modes[1].failure_mode} ({modes[1].confidence})"
                                                if len(modes) > 1 else ""))
        if inc is not None and inc.ok and inc.value:
            p = inc.value[0]
            lines.append(f"   - Similar incident {p.ticket_id} ({p.opened}): {p.root_cause} [{inc.result_id}]")
    return "\n".join(lines)


def _actions(suspects, call) -> str:  # type: ignore[no-untyped-def]
    lines = []
    n = 0
    for c, h, fm, modes, _, _ in suspects:
        if not modes:
            continue
        m = modes[0]
        for a in m.actions[:3]:
            n += 1
            lines.append(f"{n}. {c['chamber_id']}: {a} [{fm.result_id}]")
        for chk in m.checks[:2]:
            n += 1
            lines.append(f"{n}. {c['chamber_id']}, check: {chk} [{fm.result_id}]")
        doc = call("search_documents", query=f"{m.equipment_type} {m.failure_mode} repair procedure", k=1)
        if doc.ok and doc.value:
            lines.append(f"   Procedure: [{doc.value[0].citation}] [{doc.result_id}]")
    if not lines:
        lines.append("No chamber fault was confirmed by FDC; hold the suspect lots for metrology review "
                     "and keep monitoring the causes listed above.")
    lines.append("\nWork orders are not opened automatically: draft them from the assistant (they wait for approval).")
    return "\n".join(lines)


def _open_questions(com, exc, suspects) -> str:  # type: ignore[no-untyped-def]
    qs = []
    if com.ok:
        for c in com.value["causes"][:5]:
            if c["kind"] in ("recipe", "time_window"):
                qs.append(f"- {c['label']}: not tied to one chamber; check material lots, facilities and recent "
                          f"recipe edits [{com.result_id}].")
            if c["kind"] == "pm_event":
                qs.append(f"- {c['label']}: did the maintenance leave the chamber out of its normal state? "
                          f"[{com.result_id}]")
    for c, h, fm, modes, _, _ in suspects:
        if h.ok and not h.value.abnormal:
            qs.append(f"- {c['chamber_id']} yields low but its FDC data is within limits [{h.result_id}]: "
                      "a sensor may be missing for this failure, or the loss comes from metrology or handling.")
        elif h.ok and not modes:
            qs.append(f"- {c['chamber_id']}: no failure mode in the FMEA matches its deviations [{h.result_id}]; "
                      "a new failure mode for the FMEA?")
    if not qs:
        qs.append("- None from the data: confirm the diagnosis on the tool before repair.")
    return "\n".join(qs)

