"""Import of AOI exports: good defects stored, bad coordinates quarantined with the reason, replays idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fabmind.ingest.defect_maps import DefectMapImportError, import_defect_maps, read_defect_csv

CSV = """glass_id,lot_id,x,y,class,width_mm,height_mm,diameter_mm,ts
G-01,L-01,10.5,20,particle,730,920,,2026-01-05T10:00:00
G-01,L-01,729.9,919.9,scratch,730,920,,2026-01-05T10:00:00
G-01,L-01,731,20,particle,730,920,,2026-01-05T10:00:00
G-01,L-01,10,-0.5,particle,730,920,,2026-01-05T10:00:00
G-01,L-01,abc,20,particle,730,920,,2026-01-05T10:00:00
G-01,L-01,10,20,particle,700,920,,2026-01-05T10:00:00
,L-01,1,1,particle,730,920,,
W-07,L-02,150,150,residue,,,300,2026-01-05T11:00:00
W-07,L-02,5,5,residue,,,300,2026-01-05T11:00:00
W-07,L-02,150,299,bad class!,,,300,2026-01-05T11:00:00
W-07,L-02,150,1,edge,,,300,not-a-date
"""


@pytest.fixture()
def export(tmp_path):
    path = tmp_path / "aoi.csv"
    path.write_text(CSV)
    return path


def test_bad_coordinates_are_quarantined_with_the_reason(export, store):
    report = import_defect_maps(export, store, name="aoi-line-3")
    assert (report.received, report.stored, report.quarantined) == (11, 3, 8)
    assert report.substrates == ("G-01", "W-07")
    assert report.reasons == {"outside_substrate": 3, "bad_coordinate": 1, "bad_geometry": 1, "no_substrate": 1,
                              "bad_class": 1, "bad_timestamp": 1}
    q = store.quarantined(source="aoi-line-3")
    assert len(q) == 8 and set(q["kind"]) == {"defect"}
    outside = q[q["code"] == "outside_substrate"]["reason"].tolist()
    assert any("x=731" in r and "outside the glass 0..730 x 0..920 mm" in r for r in outside)
    assert any("outside the wafer (diameter 300 mm)" in r and "from its centre" in r for r in outside)
    assert any("differ from its first row" in r for r in q["reason"])
    assert '"x_mm": "731"' in q[q["reason"].str.contains("x=731")]["payload"].iloc[0]


def test_stored_maps_keep_their_geometry_and_replays_duplicate_nothing(export, store):
    from fabmind.models.defect_map_causes import load_maps

    import_defect_maps(export, store)
    import_defect_maps(export, store)
    defects = store.defects()
    assert len(defects) == 3 and defects["defect_id"].is_unique
    ins = store.inspections().set_index("substrate_id")
    assert ins.loc["G-01", "glass_width_mm"] == 730 and ins.loc["W-07", "wafer_diameter_mm"] == 300
    assert ins.loc["G-01", "ts"] == pd.Timestamp(datetime(2026, 1, 5, 10, tzinfo=UTC))
    assert ins.loc["G-01", "defect_count"] == 2
    maps = {m.substrate_id: m for m in load_maps(store)}
    assert maps["W-07"].geometry.kind == "wafer" and maps["G-01"].geometry.height_mm == 920
    assert maps["G-01"].n_defects == 2


def test_centre_origin_and_missing_columns(tmp_path, store):
    path = tmp_path / "c.csv"
    path.write_text("wafer_id,x_mm,y_mm,diameter_mm\nW1,0,0,200\nW1,-99,0,200\nW1,101,0,200\n")
    report = import_defect_maps(path, store, origin="center", default_ts=datetime(2026, 2, 1, tzinfo=UTC))
    assert (report.stored, report.quarantined) == (2, 1)
    xs = sorted(store.defects()["x_mm"])
    assert xs == [1.0, 100.0]  # shifted to the lower-left origin
    assert store.inspections()["lot_id"].iloc[0] == "W1"
    bad = tmp_path / "bad.csv"
    bad.write_text("glass,x,y\nG,1,2\n")
    with pytest.raises(DefectMapImportError, match="substrate_id"):
        read_defect_csv(bad)
    with pytest.raises(DefectMapImportError, match="no defect export"):
        read_defect_csv(tmp_path / "missing.csv")
