"""Inline SVG charts for the dashboard (no JS chart library, nothing fetched from a CDN).

>>> svg = line_chart({"T2": [1.0, 2.0, 9.0]}, limits={"T2 limit": 5.0})
>>> svg.startswith("<svg") and "T2 limit" in svg
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2b5bd7", "#d23c3c", "#2e9d5b", "#e0a100", "#7b4bd1", "#1b9aaa", "#6b7385")


def _scale(values: Sequence[float], lo: float, hi: float, a: float, b: float) -> list[float]:
    span = (hi - lo) or 1.0
    return [a + (v - lo) / span * (b - a) for v in values]


def line_chart(series: Mapping[str, Sequence[float]], *, labels: Sequence[str] = (), limits: Mapping[str, float] | None = None,
               width: int = 640, height: int = 200, title: str = "", log: bool = False) -> str:
    """Lines (one per series) with optional horizontal limit lines; x = sample index, ``labels`` for the axis ends."""
    import math

    limits = dict(limits or {})
    clean = {k: [float(v) for v in vs] for k, vs in series.items() if len(vs)}
    if log:
        clean = {k: [math.log10(max(v, 1e-9)) for v in vs] for k, vs in clean.items()}
        limits = {k: math.log10(max(v, 1e-9)) for k, v in limits.items()}
    allv = [v for vs in clean.values() for v in vs] + list(limits.values())
    if not allv:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40"><text x="8" y="24">no data</text></svg>'
    lo, hi = min(allv), max(allv)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 48, width - 10, 22, height - 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    if title:
        parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="600">{escape(title)}</text>')
    for frac in (0.0, 0.5, 1.0):
        y = bottom - frac * (bottom - top)
        val = lo + frac * (hi - lo)
        shown = 10 ** val if log else val
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{shown:.3g}</text>')
    for i, (name, vs) in enumerate(clean.items()):
        n = len(vs)
        xs = _scale(list(range(n)), 0, max(n - 1, 1), left, right)
        ys = _scale(vs, lo, hi, bottom, top)
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.4" points="{pts}"><title>{escape(name)}</title></polyline>')
        parts.append(f'<text x="{right - 4}" y="{top + 12 * (i + 1)}" font-size="10" text-anchor="end" fill="{color}">{escape(name)}</text>')
    for name, v in limits.items():
        y = _scale([v], lo, hi, bottom, top)[0]
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d23c3c" stroke-dasharray="5,3"/>'
                     f'<text x="{left + 4}" y="{y - 3:.1f}" font-size="10" fill="#d23c3c">{escape(name)}</text>')
    if labels:
        parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">{escape(str(labels[0]))}</text>'
                     f'<text x="{right}" y="{height - 6}" font-size="10" text-anchor="end">{escape(str(labels[-1]))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float]], *, width: int = 520, unit: str = "", title: str = "") -> str:
    """Horizontal bars, largest first as given."""
    row = 20
    height = 26 + row * max(len(bars), 1)
    vmax = max((abs(v) for _, v in bars), default=1.0) or 1.0
    left, right = 170, width - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    if title:
        parts.append(f'<text x="4" y="14" font-size="12" font-weight="600">{escape(title)}</text>')
    for i, (name, v) in enumerate(bars):
        y = 22 + i * row
        w = abs(v) / vmax * (right - left)
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(name)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{PALETTE[0] if v >= 0 else PALETTE[1]}"/>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="10">{v:.3g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
