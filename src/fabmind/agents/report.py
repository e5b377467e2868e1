"""What the agents produce: an :class:`Answer` (fault assistant) and a :class:`Report` (yield agent),
both carrying their evidence, the claim check and the mode that produced them.

Figures are specified as data (:class:`Figure`) tied to the tool results they plot; the
``fabmind.reports`` room renders them (SVG in HTML, PDF, PNG beside Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fabmind.agents.claims import ClaimReport
from fabmind.agents.tools import Evidence

MODE_LLM = "llm"
MODE_BUILTIN = "builtin"


def mode_label(mode: str, model: str = "") -> str:
    """Human wording of a mode, shown in UI, CLI and reports."""
    if mode == MODE_LLM:
        return f"large model ({model})" if model else "large model"
    if mode.startswith(MODE_BUILTIN + " (fallback"):
        return "built-in analyst (no LLM answer: " + mode.split("fallback:", 1)[-1].strip(" )") + ")"
    return "built-in analyst (no LLM configured)"


@dataclass(frozen=True)
class Diagnosis:
    """One ranked hypothesis: where (chamber, subsystem) and what (failure mode), with confidence."""

    rank: int
    chamber_id: str
    equipment_id: str
    subsystem: str
    failure_mode: str
    confidence: float
    evidence: tuple[str, ...] = ()  # result ids
    actions: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


@dataclass
class Series:
    name: str
    x: list[Any]
    y: list[float]


@dataclass
class Figure:
    """A chart as data: ``kind`` line | bar | hbar; ``hlines`` = control limits etc."""

    figure_id: str
    title: str
    kind: str
    series: list[Series]
    xlabel: str = ""
    ylabel: str = ""
    hlines: list[tuple[float, str]] = field(default_factory=list)
    evidence: tuple[str, ...] = ()  # result ids the data comes from
    caption: str = ""


@dataclass
class Section:
    title: str
    body: str  # Markdown, with [R<n>] / [doc § section] citations
    figures: list[str] = field(default_factory=list)  # figure ids shown in this section


@dataclass
class Answer:
    """The fault assistant's answer to one question."""

    question: str
    text: str  # Markdown, citations inline; unverified claims marked
    mode: str  # 'llm' | 'builtin' | 'builtin (fallback: <reason>)'
    model: str
    diagnoses: list[Diagnosis]
    evidence: Evidence
    claims: ClaimReport
    proposals: list[Any] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    conversation_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mode_label(self) -> str:
        return mode_label(self.mode, self.model)

    @property
    def top(self) -> Diagnosis | None:
        return self.diagnoses[0] if self.diagnoses else None


@dataclass
class Report:
    """A complete analysis report (yield agent): summary, affected lots, ranked causes, actions, open questions."""

    title: str
    created: datetime
    window_start: datetime | None
    window_end: datetime | None
    mode: str
    model: str
    sections: list[Section]
    figures: list[Figure]
    evidence: Evidence
    claims: ClaimReport
    diagnoses: list[Diagnosis] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mode_label(self) -> str:
        return mode_label(self.mode, self.model)

    def figure(self, figure_id: str) -> Figure:
        for f in self.figures:
            if f.figure_id == figure_id:
                return f
        raise KeyError(f"report has no figure {figure_id!r}")

    def text(self) -> str:
        """All section text (what the claim checker reads)."""
        return "\n\n".join(f"## {s.title}\n{s.body}" for s in self.sections)
