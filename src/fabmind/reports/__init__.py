"""Report rendering: self-contained HTML (inline SVG charts, no CDN), Markdown (+ SVG files) and PDF.

    >>> from fabmind.reports import save_report
    >>> save_report(report, "yield.html")      # or .md / .pdf, by suffix   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from fabmind.agents.report import Answer, Report
from fabmind.reports.html import render_html
from fabmind.reports.markdown import render_markdown, write_markdown
from fabmind.reports.pdf import weasyprint_available, write_pdf


def save_report(doc: Report | Answer, path: str | Path, pdf_engine: str = "auto") -> Path:
    """Write ``doc`` as HTML (.html/.htm), Markdown (.md) or PDF (.pdf), chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(doc), encoding="utf-8")
        return path
    if suffix == ".md":
        return write_markdown(doc, path)
    if suffix == ".pdf":
        return write_pdf(doc, path, engine=pdf_engine)
    raise ValueError(f"unknown report format {path.suffix!r} for {path}: use .html, .md or .pdf")


__all__ = ["render_html", "render_markdown", "save_report", "weasyprint_available", "write_markdown", "write_pdf"]
