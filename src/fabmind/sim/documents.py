"""The fab's documents: equipment manuals, SOPs, the FMEA table and past fault tickets.

All are consistent with :data:`fabmind.sim.faults.FAULT_LIBRARY` (same failure modes, sensors,
alarm codes and repairs) but tickets vary their wording (seeded templates and synonyms).
CSV columns follow the team contract:

* FMEA: ``equipment_type,subsystem,failure_mode,symptoms,alarm_codes,checks,actions,severity,occurrence,detection``
  and ``defect_pattern`` (the spatial pattern the failure mode leaves on the glass's AOI map, e.g. ``edge_ring``)
* tickets: ``ticket_id,opened,equipment_id,chamber_id,equipment_type,symptom_text,sensors,alarm_codes,root_cause,
  failure_mode,action,downtime_h``

``write_documents(batch_or_docs, folder)`` writes them as files (``<doc_id>.md`` / ``.csv``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from fabmind.domain import Document, DocumentKind, FabBatch
from fabmind.sim.doc_text import (
    ACTION_SYNONYMS, DOWN, IMPACT, OPENERS, OTHER_TICKETS, ROOT_CAUSE_VARIANTS, SENSOR_ALIASES, SUBSYSTEM_TEXT, UP,
)
from fabmind.sim.equipment import TYPES, TypeSpec
from fabmind.sim.faults import ALARM_TEXT, FAULT_LIBRARY, FaultType, applicable
from fabmind.sim.layout import Layout
from fabmind.sim.maintenance import PM_HOURS, PM_INTERVAL_DAYS

FMEA_COLUMNS = ("equipment_type", "subsystem", "failure_mode", "symptoms", "alarm_codes", "checks", "actions",
                "severity", "occurrence", "detection", "defect_pattern")
TICKET_COLUMNS = ("ticket_id", "opened", "equipment_id", "chamber_id", "equipment_type", "symptom_text", "sensors",
                  "alarm_codes", "root_cause", "failure_mode", "action", "downtime_h")
N_TICKETS = 240


def symptoms(ft: FaultType, names: Iterable[str] | None = None) -> str:
    """``"RF_REFL_W:up; MATCH_C1_POS_PCT:down"``."""
    names = list(ft.sensors) if names is None else list(names)
    return "; ".join(f"{s}:{'up' if ft.sensors[s] > 0 else 'down'}" for s in names)


def actions(ft: FaultType) -> list[str]:
    parts = [p.strip() for p in ft.repair.replace(", then ", ", ").replace(" and verify ", ", verify ").split(", ")]
    return [p for p in parts if p]


# --------------------------------------------------------------------------- manuals


def manual(spec: TypeSpec) -> Document:
    faults = applicable(spec.process)
    lines = [f"# {spec.type_id} equipment manual: {spec.name}", "",
             f"Document MAN-{spec.type_id}, revision C. Process: {spec.process}. Area: {spec.area_id}.", "",
             "## 1. Overview", "",
             f"The {spec.name} processes one glass per chamber. A recipe runs the steps "
             f"{', '.join(spec.steps)} (about {spec.run_seconds:.0f} s in total); sensors are logged every "
             f"{spec.dt_s:g} s.", "",
             "## 2. Safety", "",
             "Lock out and tag out RF, heater and gas supplies before opening a chamber. Pump-purge toxic gas lines "
             "(SiH4, NH3, Cl2, SF6) before breaking any gas connection. Wear the PPE listed in the SOP.", ""]
    subsystems = list(dict.fromkeys(s.subsystem for s in spec.sensors))
    for k, sub in enumerate(subsystems, start=3):
        lines += [f"## {k}. Subsystem: {sub}", "", SUBSYSTEM_TEXT.get(sub, ""), "",
                  f"### {k}.1 Sensors", "", "| sensor | unit | valid range | description |", "|---|---|---|---|"]
        lines += [f"| {s.name} | {s.unit} | {s.low:g} .. {s.high:g} | {s.description} |"
                  for s in spec.sensors if s.subsystem == sub]
        lines += [""]
        sub_faults = [f for f in faults if f.subsystem == sub]
        if sub_faults:
            lines += [f"### {k}.2 Troubleshooting", ""]
            for f in sub_faults:
                lines += [f"#### {f.failure_mode}", "",
                          f"Symptoms: {f.symptom}. Sensor signature: "
                          + ", ".join(f"{s} {'rises' if d > 0 else 'falls'}" for s, d in f.sensors.items()) + ".",
                          f"Alarms: {', '.join(f.alarm_codes)}.",
                          f"Likely cause: {f.root_cause}.",
                          f"Product impact: {f.defect_class.replace('_', ' ')} defects ({f.defect_pattern.replace('_', ' ')} "
                          f"pattern on the glass), yield loss.",
                          "Checks: " + "; ".join(f.checks) + ".",
                          f"Corrective action: {f.repair}.", ""]
    k = len(subsystems) + 3
    codes = sorted({c for f in faults for c in f.alarm_codes} | {c for c in ALARM_TEXT if c.startswith("W-")})
    lines += [f"## {k}. Alarm codes", "", "| code | subsystem | message | likely causes | first response |",
              "|---|---|---|---|---|"]
    for c in codes:
        sub, msg = ALARM_TEXT[c]
        causes = [f for f in faults if c in f.alarm_codes]
        cause = "; ".join(f.failure_mode for f in causes) or "intermittent, usually no process impact"
        first = "; ".join(f.checks[0] for f in causes) or "acknowledge, check the event log, escalate if repeated"
        lines.append(f"| {c} | {sub} | {msg} | {cause} | {first} |")
    lines += ["", f"## {k + 1}. Maintenance", "",
              f"Preventive maintenance every {PM_INTERVAL_DAYS[spec.process]:g} days per chamber (about "
              f"{PM_HOURS[spec.process]:g} h). After every wet clean run the seasoning recipe and qualify the chamber "
              "with a particle check and a monitor glass before releasing it to production.", ""]
    return Document(doc_id=f"MAN-{spec.type_id}", title=f"{spec.type_id} equipment manual", kind=DocumentKind.MANUAL,
                    format="md", type_id=spec.type_id, content="\n".join(lines), source="fabmind.sim")


# --------------------------------------------------------------------------- SOPs

_SOPS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("SOP-LEAK-CHECK", "Chamber leak check (rate of rise and helium)", "",
     ("Pump the chamber to base pressure for 30 min.", "Close the throttle and isolation valves and log the pressure rise "
      "for 5 min; rate of rise must be below 5 mTorr/min.", "If it fails, spray helium around the lid O-ring, slit valve "
      "and view ports with the leak detector on the foreline.", "Replace the leaking O-ring, pump down and repeat.",
      "Release the chamber only after two passing rate-of-rise tests.")),
    ("SOP-RF-MATCH", "RF match network inspection and tuning", "",
     ("Check reflected power trend: above 2 % of forward power needs action.", "Compare C1/C2 positions with the golden "
      "tune of the recipe.", "With RF locked out, inspect the vacuum capacitors for arcing marks and check cable torque.",
      "Replace a worn capacitor, run the auto-tune routine and verify reflected power on a dummy glass.")),
    ("SOP-SEASON", "Chamber seasoning and particle qualification after PM", "",
     ("Bake out the chamber for 2 h after the wet clean.", "Run the seasoning recipe at least 10 times.",
      "Run a particle monitor glass: fewer than 20 adders above 1 um.", "If particles are high, repeat seasoning; if they "
      "stay high, repeat the wet clean.", "Record the results in the PM work order.")),
    ("SOP-MFC-VERIFY", "Mass flow controller verification (rate of rise)", "",
     ("Flow the gas into the closed chamber at the set point.", "Compute the flow from the pressure rise and chamber "
      "volume.", "Deviation above 2 % of set point: recalibrate or replace the MFC.", "Check the deposition or etch rate "
      "on a monitor glass after any MFC change.")),
    ("SOP-PUMP-EXCHANGE", "Dry pump exchange", "",
     ("Trend pump current and temperature; exchange when the current exceeds 120 % of baseline.", "Vent the foreline "
      "with N2, lock out the pump.", "Exchange the pump, leak-check the foreline.", "Verify base pressure and pump purge "
      "flow.")),
    ("SOP-ESC-HE", "Electrostatic chuck helium leak check", "",
     ("Clamp a test glass, set He backside pressure to recipe value.", "He flow above 5 sccm indicates a leaking seal "
      "band or eroded grooves.", "Compare centre and edge chuck temperature with a thermocouple glass.",
      "Replace or refurbish the ESC when flow or edge temperature are out of limits.")),
    ("SOP-HOTPLATE-CAL", "Hot plate calibration", "",
     ("Place the thermocouple glass on the hot plate.", "Record centre and edge zone temperatures for 5 min.",
      "Edge zone more than 1.5 K below set point: check SSR and heater element.", "Adjust offsets and record.")),
    ("SOP-DISPENSE", "Photoresist dispense verification", "",
     ("Weigh five dispense shots; deviation must be below 3 %.", "Check the filter differential pressure.",
      "Replace filter and pump diaphragm if pressure is low or volume short.", "Purge the line and run a coat test.")),
    ("SOP-ALARM-RESPONSE", "Equipment alarm response", "",
     ("Acknowledge the alarm and note the code, chamber and time.", "Look up the code in the equipment manual alarm "
      "table and follow the first response.", "Put lots processed since the alarm on hold if the alarm is process "
      "related.", "Open a corrective work order with the symptom, checks done and the action taken.")),
)


def sops(types: Iterable[TypeSpec]) -> list[Document]:
    docs = []
    for spec in types:
        steps = [f"Put the chamber in maintenance mode and lock out {spec.name} utilities.",
                 f"{'Wet clean chamber, showerhead and liners' if spec.process != 'photo' else 'Clean cup and nozzle'}.",
                 "Inspect and replace O-rings and consumables listed in the PM kit.",
                 "Run the seasoning / qualification per SOP-SEASON (or SOP-HOTPLATE-CAL for tracks).",
                 "Close the PM work order with the results."]
        docs.append(_sop(f"SOP-PM-{spec.type_id}", f"Preventive maintenance of {spec.type_id}", spec.type_id, steps))
    docs += [_sop(i, t, ty, s) for i, t, ty, s in _SOPS]
    return docs


def _sop(doc_id: str, title: str, type_id: str, steps: Iterable[str]) -> Document:
    body = [f"# {doc_id}: {title}", "", "## Purpose", "", f"{title}.", "", "## Procedure", ""]
    body += [f"{i}. {s}" for i, s in enumerate(steps, start=1)]
    body += ["", "## Records", "", "Record every result in the work order."]
    return Document(doc_id=doc_id, title=title, kind=DocumentKind.SOP, format="md", type_id=type_id,
                    content="\n".join(body), source="fabmind.sim")


# --------------------------------------------------------------------------- FMEA and tickets


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def fmea(types: Iterable[TypeSpec]) -> Document:
    rows = []
    for spec in types:
        for f in applicable(spec.process):
            rows.append({"equipment_type": spec.type_id, "subsystem": f.subsystem, "failure_mode": f.failure_mode,
                         "symptoms": symptoms(f), "alarm_codes": "; ".join(f.alarm_codes), "checks": "; ".join(f.checks),
                         "actions": "; ".join(actions(f)), "severity": f.fmea[0], "occurrence": f.fmea[1],
                         "detection": f.fmea[2], "defect_pattern": f.defect_pattern})
    return Document(doc_id="FMEA-FAB1", title="FMEA of the fab's process equipment", kind=DocumentKind.FMEA,
                    format="csv", content=_csv(FMEA_COLUMNS, rows), source="fabmind.sim")


def _say(rng: np.random.Generator, options) -> str:
    return str(options[int(rng.integers(len(options)))])


def _reword(text: str, rng: np.random.Generator) -> str:
    for word, alts in ACTION_SYNONYMS.items():
        if word in text:
            text = text.replace(word, _say(rng, alts), 1)
    return text


def tickets(layout: Layout, seed: int, start: datetime, n: int = N_TICKETS) -> Document:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 4242])
    times = sorted(rng.uniform(30, 730, n))
    rows = []
    for k, days_before in enumerate(reversed(times)):
        opened = start - timedelta(days=float(days_before))
        tool = layout.tools[int(rng.integers(len(layout.tools)))]
        spec = TYPES[tool.type_id]
        chamber = tool.chambers[int(rng.integers(len(tool.chambers)))]
        if rng.random() < 0.08:
            fm, sub, sym, cause, action, hours = OTHER_TICKETS[int(rng.integers(len(OTHER_TICKETS)))]
            rows.append({"ticket_id": f"T-{opened:%y}-{k + 1:04d}", "opened": f"{opened:%Y-%m-%d %H:%M}",
                         "equipment_id": tool.equipment_id, "chamber_id": chamber, "equipment_type": spec.type_id,
                         "symptom_text": f"{_say(rng, OPENERS)} {sym} on {chamber}.", "sensors": "", "alarm_codes": "",
                         "root_cause": cause, "failure_mode": fm, "action": action,
                         "downtime_h": round(hours * float(rng.lognormal(0, 0.3)), 1)})
            continue
        options = applicable(spec.process)
        ft = options[int(rng.integers(len(options)))]
        names = list(ft.sensors)
        m = int(rng.integers(1, len(names) + 1)) if len(names) > 1 else 1
        seen = names[:max(m, 1)] if rng.random() < 0.6 else list(rng.permutation(names)[:m])
        phrases = [f"{_say(rng, SENSOR_ALIASES[s])} {_say(rng, UP if ft.sensors[s] > 0 else DOWN)}" for s in seen]
        codes = [c for c in ft.alarm_codes if rng.random() < 0.7]
        text = f"{_say(rng, OPENERS)} {' and '.join(phrases)} on {chamber}."
        if codes:
            text += f" Alarm {', '.join(codes)}."
        impact = _say(rng, IMPACT)
        text += f" {impact}" if impact else ""
        rows.append({"ticket_id": f"T-{opened:%y}-{k + 1:04d}", "opened": f"{opened:%Y-%m-%d %H:%M}",
                     "equipment_id": tool.equipment_id, "chamber_id": chamber, "equipment_type": spec.type_id,
                     "symptom_text": text, "sensors": symptoms(ft, seen), "alarm_codes": "; ".join(codes),
                     "root_cause": _say(rng, ROOT_CAUSE_VARIANTS[ft.fault_type]), "failure_mode": ft.failure_mode,
                     "action": _reword(_say(rng, [ft.repair, "; ".join(actions(ft)[:2])]), rng),
                     "downtime_h": round(ft.downtime_h * float(rng.lognormal(0, 0.35)), 1)})
    return Document(doc_id="TICKETS-FAB1", title="past equipment fault tickets", kind=DocumentKind.TICKET, format="csv",
                    content=_csv(TICKET_COLUMNS, rows), source="fabmind.sim")


def fab_documents(layout: Layout, seed: int, start: datetime) -> list[Document]:
    """Manuals (one per equipment type in the fab), SOPs, the FMEA table and the past tickets."""
    types = [TYPES[t] for t in dict.fromkeys(t.type_id for t in layout.tools)]
    return [manual(t) for t in types] + sops(types) + [fmea(types), tickets(layout, seed, start)]


def write_documents(batch_or_docs: FabBatch | Iterable[Document], folder: str | Path) -> list[Path]:
    """Write documents as files named ``<doc_id>.<format>`` into ``folder`` (created); returns the paths."""
    if hasattr(batch_or_docs, "batch"):  # a SimResult
        batch_or_docs = batch_or_docs.batch
    docs = batch_or_docs.documents if isinstance(batch_or_docs, FabBatch) else list(batch_or_docs)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in docs:
        p = out / f"{d.doc_id}.{d.format}"
        p.write_text(d.content, encoding="utf-8")
        paths.append(p)
    return paths
