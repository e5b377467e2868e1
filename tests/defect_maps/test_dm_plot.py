"""The drawn defect map: the file exists, in the asked format and size."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.models.defect_maps import PatternPrediction
from fabmind.reports.defect_map_plot import plot_defect_map, png_size
from fabmind.sim.defect_maps import GLASS, WAFER_300, DefectMap, generate_map


def test_png_has_the_requested_size(tmp_path):
    m = generate_map("edge_ring", np.random.default_rng(0), WAFER_300, substrate_id="W-01")
    pred = PatternPrediction("W-01", "edge_ring", 0.97, 0.1, False, m.n_defects, ("edge_ring",))
    path = plot_defect_map(m, pred, tmp_path / "maps" / "w01.png", size_px=(500, 420))
    assert path.exists() and path.stat().st_size > 5000
    assert png_size(path) == (500, 420)


def test_svg_and_bytes(tmp_path):
    m = generate_map("mixed", np.random.default_rng(1), GLASS, substrate_id="G-01")
    pred = PatternPrediction("G-01", "mixed", 0.8, 0.95, True, m.n_defects, ("center", "scratch"))
    svg = plot_defect_map(m, pred, tmp_path / "g01.svg")
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and 'width="460.8pt"' in text  # 640 px at 100 dpi
    empty = DefectMap("G-02", GLASS, np.zeros(0), np.zeros(0))
    data = plot_defect_map(empty, size_px=(300, 300))
    assert isinstance(data, bytes) and data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="format"):
        plot_defect_map(m, path=tmp_path / "g01.jpg")
