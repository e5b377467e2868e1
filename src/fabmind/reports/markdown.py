"""Markdown output: the same sections, citations and evidence appendix; charts as SVG files beside it."""

from __future__ import annotations

import json
from pathlib import Path

from fabmind.agents.report import Answer, Report
from fabmind.agents.tools import to_jsonable


def render_markdown(doc: Report | Answer, figure_dir: str | None = None) -> str:
    """Markdown text. With ``figure_dir`` (relative to the .md file) each chart is linked as ``<dir>/<id>.svg``."""
    lines: list[str] = []
    if isinstance(doc, Report):
        lines.append(f"# {doc.title}\n")
        if doc.window_start and doc.window_end:
            lines.append(f"Window: {doc.window_start:%Y-%m-%d %H:%M} – {doc.window_end:%Y-%m-%d %H:%M} UTC  ")
        lines.append(f"Mode: {doc.mode_label}  \nClaims: {doc.claims.summary()}\n")
        lines += [f"> ⚠ {w}\n" for w in doc.warnings]
        figs = {f.figure_id: f for f in doc.figures}
        for s in doc.sections:
            lines.append(f"## {s.title}\n\n{s.body}\n")
            for fid in s.figures:
                if fid in figs:
                    lines.append(_figure_md(figs[fid], figure_dir))
    else:
        lines.append("# Fault assistant answer\n")
        lines.append(f"Mode: {doc.mode_label}  \nClaims: {doc.claims.summary()}\n")
        lines += [f"> ⚠ {w}\n" for w in doc.warnings]
        lines.append(f"**Question:** {doc.question}\n\n{doc.text}\n")
        for f in doc.figures:
            lines.append(_figure_md(f, figure_dir))
    lines.append("## Evidence\n")
    for r in doc.evidence.results:
        args = ", ".join(f"{k}={v!r}" for k, v in r.arguments.items())
        body = r.error if r.error else json.dumps(to_jsonable(r.value), default=str)
        if len(body) > 600:
            body = body[:600] + " ..."
        lines.append(f"- <a id=\"{r.result_id}\"></a>**{r.result_id}** `{r.tool}({args})`: {body}")
    if doc.claims.unverified:
        lines.append("\n**Unverified claims:** " + ", ".join(doc.claims.unverified_texts))
    return "\n".join(lines) + "\n"


def _figure_md(f, figure_dir: str | None) -> str:  # type: ignore[no-untyped-def]
    caption = f.caption or f.title
    if figure_dir is None:
        return f"_Figure: {caption}_\n"
    return f"![{f.title}]({figure_dir}/{f.figure_id}.svg)\n\n_{caption}_\n"


def write_markdown(doc: Report | Answer, path: str | Path) -> Path:
    """Write ``path`` (.md) and its charts into ``<stem>_figures/``."""
    from fabmind.reports.charts import to_svg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = path.parent / f"{path.stem}_figures"
    if doc.figures:
        fig_dir.mkdir(exist_ok=True)
        for f in doc.figures:
            (fig_dir / f"{f.figure_id}.svg").write_text(to_svg(f), encoding="utf-8")
    path.write_text(render_markdown(doc, fig_dir.name if doc.figures else None), encoding="utf-8")
    return path
