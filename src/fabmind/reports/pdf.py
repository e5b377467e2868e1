"""PDF output, two engines:

* ``weasyprint`` (optional extra ``fabmind[pdf]``): prints the self-contained HTML, so the PDF looks
  like the HTML report (links, tables, SVG charts). Needs the system's Pango (present on Debian).
* ``matplotlib`` (always installed): text pages and charts through matplotlib's PDF backend; plainer,
  but the default install can always write a PDF.

``engine="auto"`` uses WeasyPrint when it imports and matplotlib otherwise. Measured on the demo
report (2 busy cores): see ``tests/reports/test_reports.py`` and the agents room's report.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from fabmind.agents.report import Answer, Report

A4 = (8.27, 11.69)


def weasyprint_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:  # noqa: BLE001  # ImportError or missing system libraries (OSError)
        return False
    return True


def write_pdf(doc: Report | Answer, path: str | Path, engine: str = "auto") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine == "auto":
        engine = "weasyprint" if weasyprint_available() else "matplotlib"
    if engine == "weasyprint":
        if not weasyprint_available():
            raise RuntimeError("PDF engine 'weasyprint' is not installed: pip install 'fabmind[pdf]' "
                               "(or use engine='matplotlib')")
        from weasyprint import HTML

        from fabmind.reports.html import render_html

        HTML(string=render_html(doc)).write_pdf(str(path))
        return path
    if engine != "matplotlib":
        raise ValueError(f"unknown PDF engine {engine!r}: use 'auto', 'weasyprint' or 'matplotlib'")
    return _write_matplotlib(doc, path)


def _write_matplotlib(doc: Report | Answer, path: Path) -> Path:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure as MplFigure

    from fabmind.reports.charts import draw
    from fabmind.reports.markdown import render_markdown

    lines: list[str] = []
    for raw in render_markdown(doc).splitlines():
        lines += textwrap.wrap(raw, 100, subsequent_indent="   ") or [""]
    per_page = 62
    with PdfPages(path) as pdf:
        for i in range(0, max(len(lines), 1), per_page):
            page = MplFigure(figsize=A4)
            page.text(0.06, 0.96, "\n".join(lines[i:i + per_page]), va="top", ha="left", family="monospace",
                      fontsize=7.2)
            pdf.savefig(page)
        for f in doc.figures:
            pdf.savefig(draw(f, width_in=7.5, height_in=3.5))
    return path
