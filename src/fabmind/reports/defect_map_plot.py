"""Draw a defect map (PNG or SVG) with its classified pattern and probability, for reports and the dashboard.

The substrate is drawn to scale (glass rectangle or wafer circle, mm), defects as dots coloured by
defect class over the binned density (the 64 x 64 map the classifier reads), and the title names the
substrate, the pattern and its probability, or says that the map fits no known pattern.

    >>> import numpy as np, tempfile, pathlib
    >>> from fabmind.sim.defect_maps import generate_map, GLASS
    >>> m = generate_map("scratch", np.random.default_rng(1), GLASS, substrate_id="G-01")
    >>> path = plot_defect_map(m, path=pathlib.Path(tempfile.mkdtemp()) / "g01.png", size_px=(400, 400))
    >>> png_size(path)
    (400, 400)
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from fabmind.sim.defect_maps import BINS, DefectMap

_PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def _title(m: DefectMap, prediction) -> str:
    head = f"{m.substrate_id or 'substrate'} · {m.n_defects} defects"
    if prediction is None:
        return head
    if prediction.is_novel:
        return f"{head}\nno known pattern (novelty {prediction.novelty:.2f}; nearest: {prediction.pattern})"
    parts = f" ({' + '.join(prediction.components)})" if prediction.pattern == "mixed" and prediction.components else ""
    return f"{head}\npattern: {prediction.pattern}{parts}  p = {prediction.probability:.2f}"


def plot_defect_map(defect_map: DefectMap, prediction=None, path: str | Path | None = None, *,
                    fmt: str | None = None, size_px: tuple[int, int] = (640, 640), dpi: int = 100,
                    show_bins: bool = True) -> Path | bytes:
    """Render the map; writes ``path`` (format from its suffix, ``.png`` or ``.svg``) or returns the bytes.

    ``prediction``: a :class:`~fabmind.models.defect_maps.PatternPrediction` for the title.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    fmt = (fmt or (Path(path).suffix.lstrip(".") if path else "png")).lower()
    if fmt not in ("png", "svg"):
        raise ValueError(f"format {fmt!r}: use png or svg")
    g = defect_map.geometry
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    ax = fig.add_axes((0.12, 0.1, 0.82, 0.74))
    if show_bins and defect_map.n_defects:
        counts = defect_map.binned(BINS)
        ax.imshow(np.ma.masked_equal(counts, 0), origin="lower", extent=(0, g.width_mm, 0, g.height_mm),
                  cmap="Greys", alpha=0.35, interpolation="nearest", aspect="equal")
    outline = (Circle((g.width_mm / 2, g.height_mm / 2), g.width_mm / 2, fill=False, lw=1.5, ec="black")
               if g.kind == "wafer" else Rectangle((0, 0), g.width_mm, g.height_mm, fill=False, lw=1.5, ec="black"))
    ax.add_patch(outline)
    classes = sorted(set(defect_map.defect_class)) if defect_map.defect_class else ["defect"]
    labels = np.asarray(defect_map.defect_class if defect_map.defect_class else ["defect"] * defect_map.n_defects)
    for k, cls in enumerate(classes):
        sel = labels == cls
        ax.scatter(defect_map.x_mm[sel], defect_map.y_mm[sel], s=6, color=_PALETTE[k % len(_PALETTE)], label=cls,
                   linewidths=0)
    pad = 0.03 * max(g.width_mm, g.height_mm)
    ax.set_xlim(-pad, g.width_mm + pad)
    ax.set_ylim(-pad, g.height_mm + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.tick_params(labelsize=7)
    if defect_map.n_defects:
        ax.legend(loc="upper right", fontsize=6, markerscale=2, framealpha=0.7)
    fig.suptitle(_title(defect_map, prediction), fontsize=9)
    if path is None:
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
        return buf.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


def png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG file, read from its header."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])
