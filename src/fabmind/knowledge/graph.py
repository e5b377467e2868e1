"""The failure-mode graph: equipment type → subsystem → failure mode → symptoms → checks and repairs.

Built from FMEA tables (columns fixed in TEAM.md, plus an optional ``defect_pattern`` column: the
spatial defect-map patterns a failure mode leaves, e.g. ``edge_ring``) and linked to the manual
sections that discuss each failure mode or its alarm codes. Its main query ranks failure modes by
how well their expected symptoms agree with observed sensor deviations, alarm codes and the
defect-map pattern of the glass the chamber processed::

    >>> g = FailureModeGraph.from_rows([
    ...   {"equipment_type": "ETCH-X", "subsystem": "RF", "failure_mode": "match drift",
    ...    "symptoms": "RF_REFL_W:up; MATCH_C1_POS:down", "alarm_codes": "E-RF-101", "checks": "inspect match",
    ...    "actions": "retune match"},
    ...   {"equipment_type": "ETCH-X", "subsystem": "vacuum", "failure_mode": "lid leak",
    ...    "symptoms": "BASE_PRESS:up; THROTTLE_POS:down", "alarm_codes": "E-VAC-201", "checks": "He leak check",
    ...    "actions": "replace O-ring"}])
    >>> [h.failure_mode.failure_mode for h in g.rank("ETCH-X", {"RF_REFL_W": 3.1, "MATCH_C1_POS": -2.5})]
    ['match drift', 'lid leak']

A defect-map pattern is evidence too, alone (the FDC data looks normal) or with the sensors::

    >>> g = FailureModeGraph.from_rows([
    ...   {"equipment_type": "CVD-X", "subsystem": "heater", "failure_mode": "heater zone drift",
    ...    "symptoms": "HEATER_EDGE_C:down", "defect_pattern": "edge_ring"},
    ...   {"equipment_type": "CVD-X", "subsystem": "gas", "failure_mode": "showerhead clog",
    ...    "symptoms": "GAS_PRESS:up", "defect_pattern": "center"}])
    >>> hit = g.rank("CVD-X", {}, defect_pattern={"edge_ring": 0.9})[0]
    >>> hit.failure_mode.failure_mode, hit.matched_pattern, hit.score
    ('heater zone drift', 'edge_ring', 0.9)
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from fabmind.knowledge.records import Chunk, Citation, FailureMode, FailureModeHit, Symptom

_DIRECTIONS = {"up": 1, "+": 1, "+1": 1, "high": 1, "increase": 1, "rise": 1, "down": -1, "-": -1, "-1": -1,
               "low": -1, "decrease": -1, "drop": -1, "fall": -1}
STRENGTH_CAP = 4.0  # deviations beyond 4 sigma count as fully present, so one huge shift cannot swamp the rest
ALARM_WEIGHT = 0.3  # share of the score given to alarm codes when any are observed
SENSOR_WEIGHT = 1.0 - ALARM_WEIGHT
PATTERN_WEIGHT = 0.3  # weight of the defect-map pattern next to the sensors' 0.7 (and the alarms' 0.3)


def parse_symptoms(text: str) -> tuple[Symptom, ...]:
    """``"RF_REFL_W:up; MATCH_C1_POS:down"`` → symptoms. Unknown directions raise naming the token."""
    out = []
    for part in _split_list(text):
        sensor, _, direction = part.partition(":")
        d = _DIRECTIONS.get(direction.strip().lower())
        if not sensor.strip() or d is None:
            raise ValueError(f"symptom {part!r}: expected 'SENSOR:up' or 'SENSOR:down'")
        out.append(Symptom(sensor.strip(), d))
    return tuple(out)


def _split_list(text: str | None) -> list[str]:
    return [p.strip() for p in re.split(r"\s*;\s*", text or "") if p.strip()]


def normalize_pattern(name: str) -> str:
    """``'Edge ring'`` / ``'edge-ring'`` → ``'edge_ring'`` (the pattern names of the defect-map classifier)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _int_or_none(v: str | None) -> int | None:
    try:
        return int(float(v)) if v not in (None, "") else None
    except ValueError:
        return None


class FailureModeGraph:
    """Failure modes indexed by equipment type; ranked against sensor deviations and alarm codes."""

    def __init__(self, modes: Iterable[FailureMode]) -> None:
        self.modes: list[FailureMode] = list(modes)
        self._by_type: dict[str, list[FailureMode]] = defaultdict(list)
        for m in self.modes:
            self._by_type[m.equipment_type.upper()].append(m)
        self._manual: dict[tuple[str, str], tuple[Citation, ...]] = {}

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]], citations: Iterable[Citation | None] | None = None
                  ) -> FailureModeGraph:
        rows = list(rows)
        cites = list(citations) if citations is not None else [None] * len(rows)
        modes = []
        for row, cite in zip(rows, cites):
            try:
                symptoms = parse_symptoms(row.get("symptoms", ""))
            except ValueError as exc:
                where = f" ({cite})" if cite else ""
                raise ValueError(f"FMEA row {row.get('failure_mode', '?')!r}{where}: {exc}") from None
            modes.append(FailureMode(
                equipment_type=row["equipment_type"].strip(), subsystem=row.get("subsystem", "").strip(),
                failure_mode=row["failure_mode"].strip(), symptoms=symptoms,
                alarm_codes=tuple(_split_list(row.get("alarm_codes"))), checks=tuple(_split_list(row.get("checks"))),
                actions=tuple(_split_list(row.get("actions"))), severity=_int_or_none(row.get("severity")),
                occurrence=_int_or_none(row.get("occurrence")), detection=_int_or_none(row.get("detection")),
                citation=cite, defect_patterns=tuple(normalize_pattern(p) for p in _split_list(
                    row.get("defect_pattern") or row.get("defect_patterns")))))
        return cls(modes)

    @classmethod
    def from_csv(cls, path: Path | str) -> FailureModeGraph:
        path = Path(path)
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        cites = [Citation(path.stem, path.name, "", row=i + 2, source=str(path)) for i in range(len(rows))]
        return cls.from_rows(rows, cites)

    @classmethod
    def from_chunks(cls, fmea: list[tuple[Chunk, Citation]], manuals: list[tuple[Chunk, Citation]] = (),
                    doc_types: Mapping[str, str] | None = None) -> FailureModeGraph:
        """From the knowledge base's FMEA row chunks, linked to manual chunks that mention each mode."""
        rows = [(c.fields, cite) for c, cite in fmea if c.fields and c.fields.get("failure_mode")]
        graph = cls.from_rows([r for r, _ in rows], [cite for _, cite in rows])
        graph.link_manuals(manuals, doc_types or {})
        return graph

    def link_manuals(self, manuals: Iterable[tuple[Chunk, Citation]], doc_types: Mapping[str, str]) -> None:
        """Attach the manual sections that name a failure mode or one of its alarm codes (at most 3 each)."""
        manuals = list(manuals)
        for m in self.modes:
            needles = [m.failure_mode.lower(), *(a.lower() for a in m.alarm_codes)]
            found: list[Citation] = []
            for chunk, cite in manuals:
                doc_type = doc_types.get(chunk.doc_id, "")
                if doc_type and doc_type.upper() != m.equipment_type.upper():
                    continue
                low = f"{chunk.section}\n{chunk.text}".lower()
                if any(n and n in low for n in needles) and cite not in found:
                    found.append(cite)
                if len(found) >= 3:
                    break
            self._manual[(m.equipment_type, m.failure_mode)] = tuple(found)

    # ------------------------------------------------------------------ views

    def equipment_types(self) -> list[str]:
        return sorted({m.equipment_type for m in self.modes})

    def failure_modes(self, equipment_type: str | None = None, subsystem: str | None = None) -> list[FailureMode]:
        modes = self._by_type.get(equipment_type.upper(), []) if equipment_type else self.modes
        return [m for m in modes if subsystem is None or m.subsystem.lower() == subsystem.lower()]

    def by_alarm(self, alarm_code: str) -> list[FailureMode]:
        code = alarm_code.strip().upper()
        return [m for m in self.modes if code in (a.upper() for a in m.alarm_codes)]

    def by_pattern(self, pattern: str, equipment_type: str | None = None) -> list[FailureMode]:
        """Failure modes that leave the defect-map ``pattern`` (of ``equipment_type`` when given)."""
        p = normalize_pattern(pattern)
        return [m for m in self.failure_modes(equipment_type) if p in m.defect_patterns]

    def get(self, failure_mode: str, equipment_type: str | None = None) -> FailureMode:
        for m in self.failure_modes(equipment_type):
            if m.failure_mode.lower() == failure_mode.lower():
                return m
        raise KeyError(f"no failure mode {failure_mode!r}" + (f" on {equipment_type}" if equipment_type else ""))

    def edges(self) -> list[tuple[str, str, str]]:
        """The graph as (source, relation, target) triples, e.g. for drawing it."""
        out: set[tuple[str, str, str]] = set()
        for m in self.modes:
            fm = f"{m.equipment_type}/{m.failure_mode}"
            out.add((m.equipment_type, "has_subsystem", f"{m.equipment_type}/{m.subsystem}"))
            out.add((f"{m.equipment_type}/{m.subsystem}", "has_failure_mode", fm))
            out |= {(fm, "shows", f"{s.sensor}:{'up' if s.direction > 0 else 'down'}") for s in m.symptoms}
            out |= {(fm, "raises", a) for a in m.alarm_codes}
            out |= {(fm, "checked_by", c) for c in m.checks}
            out |= {(fm, "repaired_by", a) for a in m.actions}
            out |= {(fm, "leaves_pattern", p) for p in m.defect_patterns}
        return sorted(out)

    # ------------------------------------------------------------------ ranking

    def rank(self, equipment_type: str, deviations: Mapping[str, float], alarm_codes: Iterable[str] = (),
             k: int | None = None, defect_pattern: str | Mapping[str, float] | None = None) -> list[FailureModeHit]:
        """Failure modes of ``equipment_type`` ranked by agreement with ``deviations``, alarms and a map pattern.

        ``deviations`` maps sensor → signed deviation: the sign is the direction (+ up, - down), the magnitude
        its strength (a z-score in sigmas, or simply ±1). The sensor score is the cosine between the observed
        and the expected signed symptom vectors, each sensor weighted by how specific it is to few failure
        modes (inverse frequency within the equipment type). ``alarm_codes``: the alarm score is the share of
        observed codes the failure mode raises. ``defect_pattern``: the defect-map pattern of the glass the
        chamber processed (a name, or pattern → classifier probability, e.g. both components of a mixed
        map); the pattern score is the probability of a pattern the failure mode leaves (FMEA
        ``defect_pattern``), 0 for the others. The score is the weighted mean of the scores of the evidence
        given (sensors 0.7, alarms 0.3, pattern 0.3; sensors alone: the cosine; no deviations but a pattern: the
        sensors do not count). Patterns are ignored for an
        equipment type whose FMEA names none.
        Ties go to the failure mode with the higher FMEA occurrence.
        """
        modes = self._by_type.get(equipment_type.upper())
        if not modes:
            known = ", ".join(self.equipment_types()) or "none (no FMEA ingested)"
            raise KeyError(f"no failure modes for equipment type {equipment_type!r}; known types: {known}")
        counts: dict[str, int] = defaultdict(int)
        for m in modes:
            for s in {s.sensor for s in m.symptoms}:
                counts[s] += 1
        weight = {s: math.log(1.0 + len(modes) / n) for s, n in counts.items()}
        default_w = math.log(1.0 + len(modes))
        observed = {s: math.copysign(min(abs(float(v)), STRENGTH_CAP), float(v))
                    for s, v in deviations.items() if v and math.isfinite(float(v))}
        o_norm = math.sqrt(sum((weight.get(s, default_w) * v) ** 2 for s, v in observed.items()))
        alarms = {a.strip().upper() for a in alarm_codes if a.strip()}
        patterns = _pattern_evidence(defect_pattern) if any(m.defect_patterns for m in modes) else {}
        # the sensors count whenever observed (and always without a pattern: the score is as it was before patterns)
        weights = ((SENSOR_WEIGHT if observed or not patterns else 0.0),
                   ALARM_WEIGHT if alarms else 0.0, PATTERN_WEIGHT if patterns else 0.0)
        hits = []
        for m in modes:
            expected = {s.sensor: s.direction for s in m.symptoms}
            e_norm = math.sqrt(sum((weight[s] * STRENGTH_CAP) ** 2 for s in expected))
            dot = sum(weight[s] ** 2 * d * STRENGTH_CAP * observed[s] for s, d in expected.items() if s in observed)
            cosine = dot / (e_norm * o_norm) if e_norm and o_norm else 0.0
            m_alarms = {a.upper() for a in m.alarm_codes}
            alarm_overlap = len(alarms & m_alarms) / len(alarms) if alarms else 0.0  # observed alarms it explains
            matched_pattern = max((p for p in m.defect_patterns if p in patterns), key=patterns.get, default=None)
            pattern_score = patterns[matched_pattern] if matched_pattern else 0.0
            parts = (max(cosine, 0.0), alarm_overlap, pattern_score)
            score = sum(w * x for w, x in zip(weights, parts)) / sum(weights)
            hits.append(FailureModeHit(
                failure_mode=m, score=round(score, 6),
                matched=tuple(s for s, d in expected.items() if s in observed and observed[s] * d > 0),
                contradicted=tuple(s for s, d in expected.items() if s in observed and observed[s] * d < 0),
                missing=tuple(s for s in expected if s not in observed),
                unexplained=tuple(s for s in observed if s not in expected),
                matched_alarms=tuple(sorted(alarms & m_alarms)),
                manual_sections=self._manual.get((m.equipment_type, m.failure_mode), ()),
                matched_pattern=matched_pattern))
        hits.sort(key=lambda h: (-h.score, -(h.failure_mode.occurrence or 0), h.failure_mode.failure_mode))
        return hits[:k] if k else hits


def _pattern_evidence(defect_pattern: str | Mapping[str, float] | None) -> dict[str, float]:
    """Observed pattern(s) → probability in [0, 1] (a bare name counts as certain; 'none' is no evidence)."""
    if not defect_pattern:
        return {}
    items = {defect_pattern: 1.0} if isinstance(defect_pattern, str) else dict(defect_pattern)
    out: dict[str, float] = {}
    for name, p in items.items():
        p = float(p)
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ValueError(f"defect pattern {name!r}: probability {p} is not in [0, 1]")
        key = normalize_pattern(name)
        if key not in ("none", "", "unknown", "mixed") and p > 0:
            out[key] = max(out.get(key, 0.0), p)
    return out
