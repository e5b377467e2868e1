"""The built-in analyst's fixed plan for a yield report (no LLM needed).

Plan: yield summary and trend → excursions → commonality analysis (ranked causes) → defect-map
patterns (which pattern the AOI maps show and which chamber the patterned glass shared) → for each
suspect chamber (commonality causes first, then chambers with a map pattern): FDC health over the
affected stretch, sensor trend of the top sensor, failure modes ranked on the sensor deviations
and the chamber's map pattern, similar incidents, the manual's procedure → report sections from
templates.
"""

from __future__ import annotations

import pandas as pd

from fabmind.agents.analyst_fault import _fmt_dt
from fabmind.agents.figures import figure_id
from fabmind.agents.report import Diagnosis, Section
from fabmind.agents.results import ChamberHealth, DefectPatternSummary, FailureModeCandidate, PatternFinding
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps

SECTION_TITLES = ("Summary", "Affected products and lots", "Root causes", "Recommended actions", "Open questions")
MAX_SUSPECTS = 3  # chambers from the commonality causes
MAX_PATTERN_SUSPECTS = 2  # more chambers, from the defect-map findings not already suspected
MAX_PATTERN_LINES = 20  # findings asked for and listed (each one passed the test); suspects look theirs up here


def run_yield_plan(days: float, toolbox: Toolbox, deps: ToolDeps, evidence: Evidence) -> tuple[list[Section], list[Diagnosis]]:
    call = lambda name, **kw: toolbox.call(name, kw, deps, evidence)
    summ = call("get_yield_summary", days=days)
    exc = call("yield_excursions", days=days)
    com = call("commonality_analysis", days=days, top=5)
    call("get_yield_trend", days=days)  # the daily yield chart
    pat = call("defect_map_patterns", days=days, top=MAX_PATTERN_LINES)
    causes = com.value["causes"] if com.ok else []
    findings: tuple[PatternFinding, ...] = pat.value.findings if pat.ok else ()
    targets = []  # (cause dict, its pattern finding or None)
    seen: set[str] = set()
    for c in causes:
        if len(targets) >= MAX_SUSPECTS:
            break
        if not c.get("chamber_id") or c["chamber_id"] in seen:
            continue
        seen.add(c["chamber_id"])
        targets.append((c, _finding_on(findings, c["chamber_id"])))
    for f in findings:  # chambers the maps point to that the yield commonality did not rank
        if sum(t[0].get("kind") == "defect_map" for t in targets) >= MAX_PATTERN_SUSPECTS:
            break
        if f.chamber_id in seen:
            continue
        seen.add(f.chamber_id)
        targets.append(({"chamber_id": f.chamber_id, "kind": "defect_map", "onset": f.first_seen,
                         "end": f.last_seen}, f))
    suspects = [_investigate(c, f, call) for c, f in targets]

    diagnoses = _diagnoses(suspects)
    sections = [
        Section("Summary", _summary(days, summ, exc, com, suspects, diagnoses, pat), ["yield-trend"]),
        Section("Affected products and lots", _affected(summ, exc)),
        Section("Root causes", _causes(com, suspects, pat),
                ["yield-causes"] + (["defect-patterns"] if findings else []) + _suspect_figures(suspects)),
        Section("Recommended actions", _actions(suspects, call)),
        Section("Open questions", _open_questions(com, exc, suspects, pat)),
    ]
    for s in sections:
        s.figures = [f for f in s.figures if f]
    return sections, diagnoses


def _finding_on(findings: tuple[PatternFinding, ...], chamber_id: str) -> PatternFinding | None:
    """The strongest map-pattern finding on a chamber (findings come ranked)."""
    return next((f for f in findings if f.chamber_id == chamber_id), None)


def _investigate(c: dict, finding: PatternFinding | None, call) -> tuple:  # type: ignore[type-arg]
    """FDC health over the affected stretch, failure modes on the deviations and the chamber's map pattern,
    similar incidents and the top sensor's trend of one suspect chamber."""
    onset, end = c.get("onset"), c.get("end")
    hours = 48.0
    if onset is not None and end is not None:  # the affected stretch against the runs before it
        hours = max(12.0, min(24.0 * 14, (pd.Timestamp(end) - pd.Timestamp(onset)).total_seconds() / 3600))
    h = call("get_chamber_health", chamber_id=c["chamber_id"], hours=hours,
             end=(pd.Timestamp(end).to_pydatetime() if end is not None else None))
    fm = tr = inc = None
    modes: list[FailureModeCandidate] = []
    pattern = ({"defect_pattern": finding.pattern, "pattern_probability": finding.mean_probability}
               if finding is not None else {})
    devs: dict[str, float] = {}
    if h.ok:
        health: ChamberHealth = h.value
        devs = health.signed_deviations() or {s.sensor: s.deviation_sigma for s in health.top_sensors[:3]
                                              if s.deviation_sigma != 0}
        if not health.abnormal:
            devs = {}
        if devs:  # the incident signature is directions only (+1 / -1)
            signs = {k: (1 if v > 0 else -1) for k, v in devs.items()}
            inc = call("similar_incidents", deviations=signs, equipment_type=health.type_id, k=2)
        if health.top_sensors:
            start_trend = pd.Timestamp(end).to_pydatetime() if end is not None else None
            tr = call("get_sensor_trend", chamber_id=c["chamber_id"], sensor=health.top_sensors[0].sensor,
                      hours=hours * 2, end=start_trend)
    type_id = h.value.type_id if h.ok else (finding.equipment_type if finding is not None else "")
    if type_id and (devs or pattern):  # sensors and map pattern together, or the pattern alone (FDC normal)
        fm = call("failure_modes_for", equipment_type=type_id, deviations=devs or None, **pattern)
        modes = fm.value if fm.ok else []
    return (c, h, fm, modes, tr, inc, finding)


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
    for c, h, fm, modes, *_ in suspects:
        if not modes:
            continue
        equipment_id = h.value.equipment_id if h.ok else c["chamber_id"].split("/")[0]
        for m in modes[:2]:
            if m.confidence <= 0:
                continue
            out.append(Diagnosis(rank=len(out) + 1, chamber_id=c["chamber_id"], equipment_id=equipment_id,
                                 subsystem=m.subsystem, failure_mode=m.failure_mode, confidence=m.confidence,
                                 evidence=(h.result_id, fm.result_id), actions=m.actions, checks=m.checks))
    return out


def _pattern_sentence(f: PatternFinding, rid: str) -> str:
    where = f"{f.chamber_id} at {f.step_id}" if f.step_id else f.chamber_id
    return (f"**{f.pattern}** defect maps on {f.n_glass} glasses (mean classifier probability {f.mean_probability}) "
            f"that shared **{where}**: {f.share:.0%} of the {f.pattern} glasses against {f.peer_share:.0%} of the "
            f"others (Fisher p = {f.p_value:.2g}) [{rid}]")


def _summary(days, summ, exc, com, suspects, diagnoses, pat) -> str:  # type: ignore[no-untyped-def]
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
    if pat.ok and pat.value.findings:
        parts.append(f"The AOI defect maps show {_pattern_sentence(pat.value.findings[0], pat.result_id)}.")
    elif pat.ok:
        parts.append(f"No defect-map pattern points to a chamber ({pat.value.n_maps} maps) [{pat.result_id}].")
    if diagnoses:
        d = diagnoses[0]
        via = "FDC and defect-map evidence" if _pattern_of(suspects, d.chamber_id) else "FDC evidence"
        parts.append(f"{via} on {d.chamber_id} points to **{d.failure_mode}** ({d.subsystem} subsystem, "
                     f"confidence {d.confidence}) [{d.evidence[-1]}].")
    return " ".join(parts)


def _pattern_of(suspects, chamber_id: str) -> bool:  # type: ignore[no-untyped-def]
    return any(s[0]["chamber_id"] == chamber_id and s[6] is not None and s[3] and s[3][0].matched_pattern
               for s in suspects)


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


def _causes(com, suspects, pat) -> str:  # type: ignore[no-untyped-def]
    lines = []
    by_chamber = {s[0]["chamber_id"]: s for s in suspects}
    if not com.ok or not com.value["causes"]:
        lines.append("No significant cause was found by the commonality analysis"
                     + (f" [{com.result_id}]." if com.ok else "."))
    else:
        for c in com.value["causes"]:
            lines.append(f"{c['rank']}. **{c['label']}** ({c['kind']}): effect {c['effect_size']} yield points "
                         f"({c['effect_sigma']} σ), adjusted p = {c['p_adjusted']}, {c['n_affected_lots']} lots"
                         + (f", onset {_fmt_dt(c['onset'])}" if c.get("onset") is not None else "")
                         + f" [{com.result_id}].")
            s = by_chamber.get(c.get("chamber_id"))
            if s is not None and s[0] is c:
                lines += _suspect_lines(s, pat)
    lines += _pattern_lines(pat, suspects)
    return "\n".join(lines)


def _suspect_lines(s: tuple, pat) -> list[str]:  # type: ignore[type-arg, no-untyped-def]
    """FDC, map pattern, failure mode and similar incident of one suspect chamber (indented bullets)."""
    _, h, fm, modes, _, inc, finding = s
    lines = []
    if finding is not None:
        lines.append(f"   - Defect maps: {_pattern_sentence(finding, pat.result_id)}")
    if not h.ok:
        lines.append(f"   - FDC evidence unavailable: {h.error} [{h.result_id}]")
    else:
        hv: ChamberHealth = h.value
        state = "out of control" if hv.abnormal else "within control limits"
        lines.append(f"   - FDC: {hv.chamber_id} {state} over the affected stretch, MSPC score {hv.score} "
                     f"({hv.share_out_of_control:.0%} of {hv.n_runs} runs over a limit) [{h.result_id}]; top sensors: "
                     + ", ".join(f"{x.sensor} {x.deviation_sigma:+} σ" for x in hv.top_sensors[:3]) + f" [{h.result_id}]")
    if modes:
        m = modes[0]
        basis = " (sensors and map pattern)" if m.matched_pattern and m.matched_sensors else \
            " (map pattern)" if m.matched_pattern else ""
        lines.append(f"   - Failure mode{basis}: {m.failure_mode} ({m.subsystem}), confidence {m.confidence} "
                     f"[{fm.result_id}]" + (f"; alternative: {modes[1].failure_mode} ({modes[1].confidence})"
                                            if len(modes) > 1 else ""))
    if inc is not None and inc.ok and inc.value:
        p = inc.value[0]
        lines.append(f"   - Similar incident {p.ticket_id} ({p.opened}): {p.root_cause} [{inc.result_id}]")
    return lines


def _pattern_lines(pat, suspects) -> list[str]:  # type: ignore[no-untyped-def]
    """The defect-map findings, strongest first; chambers the commonality did not rank get their evidence here."""
    if not pat.ok:
        return [f"\nDefect maps could not be analysed: {pat.error} [{pat.result_id}]"]
    v: DefectPatternSummary = pat.value
    head = (f"\n**Defect-map patterns** ({v.n_maps} inspected glasses with defects, {v.n_classified} with enough "
            f"defects to classify) [{pat.result_id}]:")
    if not v.findings:
        return [head, f"- no pattern is shared by the glasses of one chamber [{pat.result_id}]"]
    lines = [head]
    listed = {s[0]["chamber_id"] for s in suspects if s[0].get("kind") != "defect_map"}
    extra = {s[0]["chamber_id"]: s for s in suspects if s[0].get("kind") == "defect_map"}
    for f in v.findings:
        modes = f"; failure modes that leave it there: {', '.join(f.failure_modes)}" if f.failure_modes else ""
        lines.append(f"- {_pattern_sentence(f, pat.result_id)}, {f.n_lots} lots, first {_fmt_dt(f.first_seen)}"
                     f"{modes} [{pat.result_id}]" + (" (see the cause above)" if f.chamber_id in listed else ""))
        s = extra.pop(f.chamber_id, None)
        if s is not None:
            lines += [ln for ln in _suspect_lines(s, pat) if not ln.lstrip().startswith("- Defect maps")]
    return lines


def _actions(suspects, call) -> str:  # type: ignore[no-untyped-def]
    lines = []
    n = 0
    for c, h, fm, modes, *_ in suspects:
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


def _open_questions(com, exc, suspects, pat) -> str:  # type: ignore[no-untyped-def]
    qs = []
    if com.ok:
        for c in com.value["causes"][:5]:
            if c["kind"] in ("recipe", "time_window"):
                qs.append(f"- {c['label']}: not tied to one chamber; check material lots, facilities and recent "
                          f"recipe edits [{com.result_id}].")
            if c["kind"] == "pm_event":
                qs.append(f"- {c['label']}: did the maintenance leave the chamber out of its normal state? "
                          f"[{com.result_id}]")
    if pat.ok:
        for f in pat.value.findings:
            if not f.consistent:
                qs.append(f"- {f.pattern} maps point to {f.chamber_id} [{pat.result_id}], but no known failure mode "
                          "of its process leaves that pattern: a new failure mode for the FMEA?")
        if pat.value.n_novel:
            qs.append(f"- {pat.value.n_novel} defect maps fit no known pattern [{pat.result_id}]: review them "
                      "(a new defect source?).")
    for c, h, fm, modes, *_ in suspects:
        if h.ok and not h.value.abnormal:
            what = "its glass shows a defect-map pattern" if c.get("kind") == "defect_map" else "yields low"
            qs.append(f"- {c['chamber_id']} {what} but its FDC data is within limits [{h.result_id}]: "
                      "a sensor may be missing for this failure, or the loss comes from metrology or handling.")
        elif h.ok and not modes:
            qs.append(f"- {c['chamber_id']}: no failure mode in the FMEA matches its deviations [{h.result_id}]; "
                      "a new failure mode for the FMEA?")
    if not qs:
        qs.append("- None from the data: confirm the diagnosis on the tool before repair.")
    return "\n".join(qs)

