"""``fabmind defects …``: import, classify, plot through the CLI (thin over the Python API)."""

from __future__ import annotations

import numpy as np
import typer
from typer.testing import CliRunner

from fabmind.cli.defect_maps import register
from fabmind.reports.defect_map_plot import png_size
from fabmind.sim.defect_maps import GLASS, generate_map


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:  # a group, as in fabmind's own app
        pass

    return app


def test_import_classify_and_plot(tmp_path, pattern_classifier):
    m = generate_map("scratch", np.random.default_rng(4), GLASS, n_pattern=120, background=2)
    rows = ["glass_id,x,y,class,width_mm,height_mm"]
    rows += [f"G-9,{x:.2f},{y:.2f},scratch,730,920" for x, y in zip(m.x_mm, m.y_mm)]
    rows.append("G-9,800,10,scratch,730,920")
    csv = tmp_path / "aoi.csv"
    csv.write_text("\n".join(rows) + "\n")
    model = pattern_classifier.save(tmp_path / "pattern.pkl")
    db = f"sqlite:///{tmp_path / 'fab.db'}"
    runner = CliRunner()
    out = runner.invoke(_app(), ["defects", "import", str(csv), "--db", db])
    assert out.exit_code == 0, out.output
    assert f"{m.n_defects} stored" in out.output and "1 quarantined" in out.output
    out = runner.invoke(_app(), ["defects", "classify", "--db", db, "--model", str(model), "--json"])
    assert out.exit_code == 0, out.output
    assert '"pattern": "scratch"' in out.output
    png = tmp_path / "g9.png"
    out = runner.invoke(_app(), ["defects", "plot", "G-9", "--out", str(png), "--db", db, "--model", str(model)])
    assert out.exit_code == 0, out.output
    assert png_size(png) == (640, 640)
    out = runner.invoke(_app(), ["defects", "plot", "NOPE", "--out", str(png), "--db", db, "--model", "-"])
    assert out.exit_code == 2 and "no defects" in out.output
