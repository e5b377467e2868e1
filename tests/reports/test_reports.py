"""Report rendering: self-contained HTML, Markdown with chart files, PDF (matplotlib; WeasyPrint if installed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from fabmind.agents.claims import check_claims
from fabmind.agents.report import Figure, Report, Section, Series
from fabmind.agents.tools import Evidence, ToolResult
from fabmind.reports import render_html, render_markdown, save_report, weasyprint_available


@pytest.fixture()
def report() -> Report:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    ev = Evidence("yield report")
    ev.add(ToolResult("R1", "get_yield_trend", {"days": 4}, value={
        "days": [(t0 + timedelta(days=i)).date().isoformat() for i in range(4)], "mean_yield_pct": [91.2, 90.8, 84.1, 79.5]}))
    ev.add(ToolResult("R2", "commonality_analysis", {"days": 4}, value={"causes": [
        {"label": "CVD-01/A at step S04", "effect_sigma": -2.2}, {"label": "recipe R7", "effect_sigma": -1.1}]}))
    figs = [Figure("yield-trend", "Daily mean lot yield", "line",
                   [Series("yield %", ev.results[0].value["days"], ev.results[0].value["mean_yield_pct"])],
                   hlines=[(85.0, "control limit")], evidence=("R1",), caption="Daily mean lot yield [R1]"),
            Figure("yield-causes", "Ranked causes", "hbar", [Series("effect", ["CVD-01/A at step S04", "recipe R7"],
                                                                    [2.2, 1.1])], evidence=("R2",), caption="Causes [R2]")]
    sections = [Section("Summary", "Yield fell to 79.5 % [R1]; cause **CVD-01/A** (-2.2 σ) [R2]. Also 55.5 %.",
                        ["yield-trend"]),
                Section("Root causes", "| cause | σ |\n|---|---|\n| CVD-01/A at step S04 | -2.2 |", ["yield-causes"])]
    rep = Report("Yield analysis report", datetime.now(UTC), t0, t0 + timedelta(days=4), "builtin",
                 "built-in analyst", sections, figs, ev, check_claims("", ev))
    rep.claims = check_claims(rep.text(), ev)
    rep.sections[0].body = check_claims(rep.sections[0].body, ev).annotate(rep.sections[0].body)
    return rep


def test_html_is_self_contained_and_linked(report):
    page = render_html(report)
    assert page.count("<svg") == 2 and "<table>" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "<script" not in page and "<link" not in page
    for rid in re.findall(r'href="#(R\d+)"', page):
        assert f'id="{rid}"' in page  # every citation resolves to an evidence entry
    assert 'href="#R1"' in page and 'href="#R2"' in page
    assert "built-in analyst (no LLM configured)" in page
    assert "5 of 6 claims verified" in page and ">55.5 %</mark>" in page


def test_markdown_with_chart_files(report, tmp_path):
    path = save_report(report, tmp_path / "r.md")
    text = path.read_text()
    assert text.startswith("# Yield analysis report") and "## Evidence" in text and "**R2**" in text
    assert "![Daily mean lot yield](r_figures/yield-trend.svg)" in text
    assert (tmp_path / "r_figures" / "yield-causes.svg").read_text().startswith("<svg")
    assert "Unverified claims:** 55.5" in render_markdown(report)


def test_pdf_matplotlib_engine(report, tmp_path):
    path = save_report(report, tmp_path / "r.pdf", pdf_engine="matplotlib")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    from pypdf import PdfReader

    pages = PdfReader(str(path)).pages
    assert len(pages) == 3 and "Yield analysis report" in pages[0].extract_text()


@pytest.mark.skipif(not weasyprint_available(), reason="optional extra fabmind[pdf] (WeasyPrint) not installed")
def test_pdf_weasyprint_engine(report, tmp_path):
    path = save_report(report, tmp_path / "r.pdf", pdf_engine="weasyprint")
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(str(path)).pages)
    assert "Root causes" in text and "Evidence" in text


def test_unknown_format(report, tmp_path):
    with pytest.raises(ValueError, match="use .html, .md or .pdf"):
        save_report(report, tmp_path / "r.docx")
