"""The yield analysis agent: finds excursions in a window, ranks their causes, pulls FDC evidence of
the suspect chambers, failure modes, past incidents and procedures, and writes a complete report.

Triggered by ``fabmind analyze``, the API, or the monitor when an excursion is detected.

    >>> from fabmind.agents.yield_agent import YieldAgent
    >>> report = YieldAgent(store).analyze(days=30)                  # doctest: +SKIP
    >>> from fabmind.reports import save_report
    >>> save_report(report, "yield.html")                            # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fabmind.agents.analyst_yield import SECTION_TITLES, run_yield_plan
from fabmind.agents.assistant import AgentBase, diagnoses_from_evidence
from fabmind.agents.claims import check_claims
from fabmind.agents.figures import figures_from_evidence
from fabmind.agents.llm import LLMError
from fabmind.agents.loop import run_tool_loop
from fabmind.agents.prompts import YIELD_AGENT
from fabmind.agents.report import MODE_BUILTIN, MODE_LLM, Report, Section
from fabmind.agents.tools import Evidence


class YieldAgent(AgentBase):
    agent = "yield_agent"

    def analyze(self, days: float = 30.0, *, user: str = "system",
                on_text: Callable[[str], None] | None = None) -> Report:
        """A complete yield report over the last ``days`` of data."""
        t0 = time.perf_counter()
        deps = self.deps(user)
        question = f"Yield report for the last {days:g} days."
        warnings: list[str] = []
        sections: list[Section] | None = None
        mode, model = MODE_BUILTIN, "built-in analyst"
        evidence = Evidence(question)
        if self.client is not None:
            try:
                messages = [{"role": "system", "content": YIELD_AGENT.format(now=self.data_now(deps))},
                            {"role": "user", "content": question}]
                res = run_tool_loop(self.client, self.toolbox, deps, messages, agent=self.agent, evidence=evidence,
                                    log=self.log, max_steps=max(self.max_steps, 12), on_text=on_text)
                sections = split_sections(res.answer)
                mode, model = MODE_LLM, self.client.describe()
                diagnoses = diagnoses_from_evidence(evidence)
            except LLMError as exc:
                warnings.append(f"LLM unavailable, built-in analyst wrote the report instead: {exc}")
                mode = f"{MODE_BUILTIN} (fallback: {type(exc).__name__})"
                evidence = Evidence(question)
        if sections is None:
            sections, diagnoses = run_yield_plan(days, self.toolbox, deps, evidence)
        figures = figures_from_evidence(evidence)
        known = {f.figure_id for f in figures}
        for s in sections:
            s.figures = [f for f in s.figures if f in known]
        placed = {f for s in sections for f in s.figures}
        rest = [f.figure_id for f in figures if f.figure_id not in placed]
        if rest:  # LLM mode: charts of the evidence it gathered go with the root causes
            target = next((s for s in sections if s.title == "Root causes"), sections[-1])
            target.figures += rest
        report = Report(title="Yield analysis report", created=datetime.now(UTC), window_start=None,
                        window_end=None, mode=mode, model=model, sections=sections, figures=figures,
                        evidence=evidence, claims=check_claims("", evidence), diagnoses=diagnoses, warnings=warnings)
        _window(report, deps, days)
        report.claims = check_claims(report.text(), evidence)
        if report.claims.unverified:
            _annotate_sections(report)
        report.seconds = time.perf_counter() - t0
        return report


def split_sections(markdown: str) -> list[Section]:
    """The model's Markdown cut at '## ' headings into the report's sections (missing ones noted)."""
    found: dict[str, str] = {}
    parts = re.split(r"^##\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    preamble = parts[0].strip()
    for title, body in zip(parts[1::2], parts[2::2]):
        key = next((t for t in SECTION_TITLES if t.lower() in title.lower()), title.strip())
        found[key] = (found.get(key, "") + "\n" + body.strip()).strip()
    if preamble:
        found["Summary"] = (preamble + "\n" + found.get("Summary", "")).strip()
    sections = [Section(t, found.pop(t, "_(not covered by the model)_")) for t in SECTION_TITLES]
    sections += [Section(t, b) for t, b in found.items()]
    return sections


def _window(report: Report, deps: Any, days: float) -> None:
    from datetime import timedelta

    try:
        from fabmind.agents.fabtools.fdc import data_now

        end = data_now(deps)
        report.window_start, report.window_end = end - timedelta(days=days), end
    except Exception:  # noqa: BLE001, S110  # no store / no runs: the report shows no window
        pass


def _annotate_sections(report: Report) -> None:
    for s in report.sections:
        s.body = check_claims(s.body, report.evidence).annotate(s.body)
