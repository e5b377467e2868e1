"""Typed results of the knowledge room: what crosses into agents, API and CLI.

Every retrieved passage carries a :class:`Citation` (document, section, page or row) and a score,
so an answer can point an engineer at the exact place in the manual, FMEA sheet or ticket export.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from. ``page`` is 1-based (PDF); ``row`` is the spreadsheet row (header = row 1)."""

    doc_id: str
    title: str
    section: str = ""
    page: int | None = None
    row: int | None = None
    source: str = ""

    def __str__(self) -> str:
        """``"Etch manual, § RF > Alarms, p. 3"``; a section path starting with the title omits it."""
        title = self.title or self.doc_id
        section = self.section
        if section.startswith(title + " > "):
            section = section[len(title) + 3:]
        elif section == title:
            section = ""
        parts = [title]
        if section:
            parts.append(f"§ {section}")
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit of a document: a section (or part of one), a PDF page paragraph, a table row."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    section: str = ""
    page: int | None = None
    row: int | None = None
    fields: dict[str, str] | None = None  # the cells of a table row, by column name
    flagged: bool = False  # text that tries to instruct an assistant (see knowledge.injection)
    flag_reason: str = ""


@dataclass(frozen=True)
class Passage:
    """A search hit: the chunk text, its citation and the fused score (higher = better)."""

    text: str
    citation: Citation
    score: float
    chunk_id: str
    flagged: bool = False
    flag_reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # per retriever: bm25, dense (raw scores)


@dataclass(frozen=True)
class DocumentReport:
    """What happened to one document on ingest: ``added``, ``replaced`` or ``unchanged``."""

    doc_id: str
    status: str
    chunks: int
    flagged_chunks: int
    kind: str
    format: str


@dataclass(frozen=True)
class IngestReport:
    documents: list[DocumentReport]

    @property
    def added(self) -> int:
        return sum(d.status == "added" for d in self.documents)

    @property
    def replaced(self) -> int:
        return sum(d.status == "replaced" for d in self.documents)

    @property
    def unchanged(self) -> int:
        return sum(d.status == "unchanged" for d in self.documents)

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents if d.status != "unchanged")


@dataclass(frozen=True)
class Symptom:
    """An expected sign of a failure mode: a sensor moving in a direction (+1 up, -1 down)."""

    sensor: str
    direction: int


@dataclass(frozen=True)
class FailureMode:
    """One node path of the failure-mode graph: equipment type → subsystem → failure mode → symptoms → actions."""

    equipment_type: str
    subsystem: str
    failure_mode: str
    symptoms: tuple[Symptom, ...]
    alarm_codes: tuple[str, ...]
    checks: tuple[str, ...]
    actions: tuple[str, ...]
    severity: int | None = None
    occurrence: int | None = None
    detection: int | None = None
    citation: Citation | None = None
    defect_patterns: tuple[str, ...] = ()  # spatial defect-map patterns it leaves (FMEA column defect_pattern)

    @property
    def rpn(self) -> int | None:
        """FMEA risk priority number (severity x occurrence x detection), if all three are given."""
        if None in (self.severity, self.occurrence, self.detection):
            return None
        return int(self.severity) * int(self.occurrence) * int(self.detection)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FailureModeHit:
    """A failure mode ranked against observed deviations. ``score`` in [0, 1]; evidence lists why."""

    failure_mode: FailureMode
    score: float
    matched: tuple[str, ...]  # sensors moving as expected
    contradicted: tuple[str, ...]  # sensors moving the other way
    missing: tuple[str, ...]  # expected sensors not observed deviating
    unexplained: tuple[str, ...]  # observed deviations this mode does not predict
    matched_alarms: tuple[str, ...] = ()
    manual_sections: tuple[Citation, ...] = ()
    matched_pattern: str | None = None  # the observed defect-map pattern this mode leaves


@dataclass(frozen=True)
class Incident:
    """A past ticket similar to the present situation."""

    ticket_id: str
    opened: str
    equipment_id: str
    chamber_id: str
    equipment_type: str
    symptom_text: str
    sensors: dict[str, int]
    alarm_codes: tuple[str, ...]
    root_cause: str
    failure_mode: str
    action: str
    downtime_h: float | None
    score: float
    text_score: float
    signature_score: float
    citation: Citation
