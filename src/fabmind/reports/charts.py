"""Figures (data specs from the agents) drawn with matplotlib's non-interactive backends: SVG text for
HTML (embedded inline, no CDN), PNG bytes, or onto a PDF page."""

from __future__ import annotations

import io
import re
from typing import Any

from fabmind.agents.report import Figure


def draw(fig_spec: Figure, width_in: float = 7.0, height_in: float = 3.0) -> Any:
    """A matplotlib Figure for the spec (caller closes it)."""
    from matplotlib.figure import Figure as MplFigure  # no pyplot: no global state, no GUI backend

    n = max((len(s.x) for s in fig_spec.series), default=0)
    if fig_spec.kind == "hbar":
        height_in = max(height_in * 0.7, 0.35 * n + 1.0)
    fig = MplFigure(figsize=(width_in, height_in), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for s in fig_spec.series:
        if fig_spec.kind == "line":
            x = _as_dates(s.x)
            ax.plot(x, s.y, marker="o" if len(s.y) < 40 else None, markersize=3, linewidth=1.2, label=s.name)
        elif fig_spec.kind == "hbar":
            labels = [str(v) for v in s.x][::-1]
            ax.barh(labels, list(s.y)[::-1], color="#3b6ea5")
        else:
            ax.bar([str(v) for v in s.x], s.y, color="#3b6ea5")
    for y, label in fig_spec.hlines:
        if fig_spec.kind == "hbar":
            ax.axvline(y, color="#c0392b", linestyle="--", linewidth=1, label=label)
        else:
            ax.axhline(y, color="#c0392b" if "limit" in label else "#7f8c8d", linestyle="--", linewidth=1, label=label)
    ax.set_title(fig_spec.title, fontsize=10)
    ax.set_xlabel(fig_spec.xlabel, fontsize=8)
    ax.set_ylabel(fig_spec.ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if fig_spec.kind == "line" or fig_spec.hlines:
        ax.legend(fontsize=7, loc="best")
    if fig_spec.kind == "line":
        fig.autofmt_xdate()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _as_dates(xs: list[Any]) -> list[Any]:
    import pandas as pd

    if xs and isinstance(xs[0], str) and re.match(r"\d{4}-\d{2}-\d{2}", xs[0]):
        return list(pd.to_datetime(xs))
    return xs


def to_svg(fig_spec: Figure) -> str:
    """The chart as an inline ``<svg>`` element (XML prolog and DOCTYPE stripped)."""
    fig = draw(fig_spec)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def to_png(fig_spec: Figure, dpi: int = 110) -> bytes:
    fig = draw(fig_spec)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
