"""The built-in analyst's fixed plan for equipment faults (no LLM needed).

Plan: read the ids in the question → FDC health of the chamber (or rank the chambers of the
tool / the fab) → failure modes consistent with the deviating sensors (FMEA graph) → similar
past incidents → the manual's repair procedure → a templated answer in which every number
and id comes from a tool result (the claim checker verifies it like any LLM answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fabmind.agents.claims import CHAMBER_RE, TOOL_RE
from fabmind.agents.report import Diagnosis
from fabmind.agents.results import (
    ChamberHealth,
    ChamberRanking,
    DocPassage,
    FailureModeCandidate,
    PastIncident,
)
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps, ToolResult


@dataclass
class Question:
    text: str
    chamber_id: str | None
    equipment_id: str | None
    alarm_id: str | None
    hours: float


def parse_question(text: str, default_hours: float = 12.0) -> Question:
    chamber = re.search(CHAMBER_RE, text)
    tool = re.search(TOOL_RE, text)
    alarm = re.search(r"\balarm[_ -]?(?:id)?\s*[:#]?\s*([A-Za-z0-9][\w.:\-]*\d[\w.:\-]*)", text, re.IGNORECASE)
    hours = default_hours
    m = re.search(r"(?:last|past|since)\s+(\d+(?:\.\d+)?)\s*(h|hours?|d|days?)\b", text, re.IGNORECASE)
    if m:
        hours = float(m.group(1)) * (24.0 if m.group(2).lower().startswith("d") else 1.0)
    alarm_id = alarm.group(1) if alarm and not re.fullmatch(CHAMBER_RE, alarm.group(1)) else None
    return Question(text, chamber.group(0) if chamber else None,
                    tool.group(0) if tool and not chamber else (chamber.group(0).split("/")[0] if chamber else None),
                    alarm_id, hours)


def _fmt_dt(t: object) -> str:
    return f"{t:%Y-%m-%d %H:%M}" if hasattr(t, "strftime") else str(t)


def run_fault_plan(question: str, toolbox: Toolbox, deps: ToolDeps, evidence: Evidence,
                   hours: float = 12.0) -> tuple[str, list[Diagnosis]]:
    """Gather the evidence with the tools and write the answer from templates."""
    q = parse_question(question, hours)
    call = lambda name, **kw: toolbox.call(name, kw, deps, evidence)
    chamber_id = q.chamber_id
    if q.alarm_id and not chamber_id:
        r = call("explain_alarm", alarm_id=q.alarm_id)
        if r.ok:
            chamber_id = r.value["chamber_id"]
    healths: list[tuple[ChamberHealth, str]] = []
    if chamber_id:
        r = call("get_chamber_health", chamber_id=chamber_id, hours=q.hours)
        if r.ok:
            healths = [(r.value, r.result_id)]
        else:
            return _no_evidence(chamber_id, r), []
    else:
        r = call("rank_chambers", equipment_id=q.equipment_id, hours=q.hours, top=5)
        if not r.ok:
            return _no_evidence(q.equipment_id or "the fab", r), []
        ranking: ChamberRanking = r.value
        healths = [(h, r.result_id) for h in ranking.chambers]
    if not healths:
        return "No chamber had enough runs to assess (built-in analyst).", []
    abnormal = [(h, rid) for h, rid in healths if h.abnormal]
    if not abnormal and healths[0][0].signed_deviations():
        abnormal = healths[:1]  # below the limit but with clear sensor deviations: a tentative diagnosis
    if not abnormal:
        h, rid = healths[0]
        return (f"No chamber is out of control: the highest MSPC score is {h.score} on {h.chamber_id} "
                f"(1 = control limit) over {h.n_runs} runs since {_fmt_dt(h.window_start)} [{rid}]. "
                "No fault to diagnose; keep monitoring."), []
    diagnoses, per_chamber = _rank(abnormal[:3], call)
    return _write(abnormal[0], per_chamber, diagnoses, call), diagnoses


def _rank(abnormal: list[tuple[ChamberHealth, str]], call) -> tuple[list[Diagnosis], dict[str, tuple]]:  # type: ignore[no-untyped-def]
    top_score = max(h.score for h, _ in abnormal)
    scored: list[tuple[float, Diagnosis]] = []
    per_chamber: dict[str, tuple] = {}
    for h, rid in abnormal:
        devs = h.signed_deviations() or {s.sensor: s.deviation_sigma for s in h.top_sensors[:3]
                                         if s.deviation_sigma != 0}
        r = call("failure_modes_for", equipment_type=h.type_id, deviations=devs)
        modes: list[FailureModeCandidate] = r.value if r.ok else []
        per_chamber[h.chamber_id] = (h, rid, r, modes)
        weight = h.score / top_score
        for m in modes[:3]:
            d = Diagnosis(rank=0, chamber_id=h.chamber_id, equipment_id=h.equipment_id, subsystem=m.subsystem,
                          failure_mode=m.failure_mode, confidence=m.confidence, evidence=(rid, r.result_id),
                          actions=m.actions, checks=m.checks)
            scored.append((weight * max(m.confidence, 1e-3), d))
        if not modes:
            d = Diagnosis(rank=0, chamber_id=h.chamber_id, equipment_id=h.equipment_id, subsystem="unknown",
                          failure_mode="unknown (no failure mode matches the deviations)", confidence=0.0,
                          evidence=(rid,))
            scored.append((weight * 1e-4, d))
    scored.sort(key=lambda s: -s[0])
    out = [Diagnosis(**{**d.__dict__, "rank": i + 1}) for i, (_, d) in enumerate(scored)]
    return out, per_chamber


def _write(first: tuple[ChamberHealth, str], per_chamber: dict[str, tuple], diagnoses: list[Diagnosis],
           call) -> str:  # type: ignore[no-untyped-def]
    top = diagnoses[0]
    h, rid, fm_result, modes = per_chamber[top.chamber_id]
    state = "is out of control" if h.abnormal else "is still within its control limits but shows clear deviations"
    lines = [(f"**{h.chamber_id}** ({h.equipment_id}, {h.type_id}) {state}: median MSPC score "
             f"{h.score} (T² {h.t2} vs limit {h.t2_limit}; SPE {h.spe} vs limit {h.spe_limit}) over "
             f"{h.n_recipe_runs} runs of recipe {h.recipe_id} since {_fmt_dt(h.window_start)}, compared with "
             f"{h.n_baseline_runs} earlier normal runs [{rid}].")]
    m0 = next((m for m in modes if m.failure_mode == top.failure_mode), None)
    if m0 is not None:
        cite = f" ({m0.citation})" if m0.citation else ""
        lines.append(f"\n**Most likely cause:** {m0.failure_mode} in the {m0.subsystem} subsystem, "
                     f"confidence {m0.confidence} [{fm_result.result_id}]{cite}.")
    others = [d for d in diagnoses[1:4] if d.confidence > 0]
    if others:
        lines.append("\n**Alternatives:** " + "; ".join(
            f"{d.failure_mode} on {d.chamber_id} ({d.confidence}) [{d.evidence[-1]}]" for d in others) + ".")
    lines.append("\n**Evidence**")
    for s in h.top_sensors[:4]:
        unit = f" {s.unit}" if s.unit else ""
        lines.append(f"- {s.sensor}: {s.value}{unit} vs normal {s.expected}{unit} ({s.deviation_sigma:+} σ, "
                     f"{s.contribution:.0%} of the statistic) [{rid}]")
    devs = {s.sensor: s.direction for s in h.top_sensors if abs(s.deviation_sigma) >= 3} or None
    inc = call("similar_incidents", deviations=devs, text=None if devs else (m0.failure_mode if m0 else h.chamber_id),
               equipment_type=h.type_id, k=2)
    if inc.ok:
        for p in inc.value[:2]:
            lines.append(f"- Similar past incident {p.ticket_id} on {p.chamber_id} ({p.opened}): {p.root_cause}; "
                         f"fixed by: {p.action} [{inc.result_id}]")
    if m0 is not None:
        if m0.checks:
            lines.append("\n**Check first**")
            lines += [f"{i}. {c} [{fm_result.result_id}]" for i, c in enumerate(m0.checks, 1)]
        if m0.actions:
            lines.append("\n**Repair**")
            lines += [f"{i}. {a} [{fm_result.result_id}]" for i, a in enumerate(m0.actions, 1)]
        doc = call("search_documents", query=f"{h.type_id} {m0.failure_mode} {m0.subsystem} repair procedure", k=2)
        if doc.ok and doc.value:
            p: DocPassage = doc.value[0]
            lines.append(f"\nProcedure: see [{p.citation}] [{doc.result_id}].")
    lines.append("\n_Answer by the built-in analyst (fixed tool plan, no LLM)._")
    return "\n".join(lines)


def _no_evidence(what: str, r: ToolResult) -> str:
    return f"The built-in analyst could not assess {what}: {r.error} [{r.result_id}]."


__all__ = ["PastIncident", "Question", "parse_question", "run_fault_plan"]
