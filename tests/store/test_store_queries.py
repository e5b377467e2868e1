"""The queries later rooms build on (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from store_fab_data import T0, small_batch


@pytest.fixture
def fab(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    return any_store, batch


def test_runs_of_a_chamber_in_a_window(fab):
    store, batch = fab
    start, end = T0 + timedelta(minutes=4), T0 + timedelta(minutes=14)
    frame = store.runs(chamber_id="ETCH-01/A", start=start, end=end)
    expected = sorted(r.run_id for r in batch.runs if r.chamber_id == "ETCH-01/A" and start <= r.start < end)
    assert sorted(frame.run_id) == expected and expected
    assert (frame.equipment_id == "ETCH-01").all()
    assert frame.start.is_monotonic_increasing
    assert len(store.runs(step_id="S20-ETCH")) == len(batch.runs) // 2
    assert len(store.runs(lot_id="L001")) == 6


def test_lot_history_has_route_and_yields(fab):
    store, batch = fab
    h = store.lot_history()
    assert len(h) == len(batch.runs)
    first = h[h.substrate_id == "L000-02"]
    assert first.step_id.tolist() == ["S10-ETCH", "S20-ETCH"] and first.seq.tolist() == [10, 20]
    assert (first.product_id == "P1").all() and (first.yield_pct == 90.0).all()
    assert (h[h.lot_id == "L001"].lot_yield_pct == 94.0).all()
    assert {"lot_id", "substrate_id", "product_id", "step_id", "seq", "chamber_id", "equipment_id",
            "recipe_id", "start", "end"} <= set(h.columns)
    assert len(store.lot_history(lot_id="L000")) == 6


def test_yields_per_lot_and_per_substrate(fab):
    store, _ = fab
    lots = store.yields()
    assert lots.lot_id.tolist() == ["L000", "L001"] and lots.yield_pct.tolist() == [95.0, 94.0]
    subs = store.yields(per_substrate=True)
    assert len(subs) == 6 and (subs.substrate_id != "").all() and (subs.product_id == "P1").all()
    assert len(store.yields(start=lots.ts[1])) == 1


def test_inspections_and_defects_by_class(fab):
    store, batch = fab
    ins = store.inspections()
    assert len(ins) == len(batch.inspections) and {"cd_nm", "thickness_nm"} <= set(ins.columns)
    assert ins.set_index("substrate_id").loc["L000-01", "cd_nm"] == 46.0
    particles = store.defects(defect_class="particle")
    assert len(particles) == sum(x.defect_class == "particle" for x in batch.defects)
    assert set(particles.lot_id) == {"L000", "L001"} and "ts" in particles
    assert len(store.defects()) == len(batch.defects)
    assert len(store.defects(lot_id="L001", defect_class="scratch")) == 1


def test_work_orders_by_equipment_and_chamber(fab):
    store, _ = fab
    assert store.work_orders(equipment_id="ETCH-01").work_order_id.tolist() == ["WO-1", "WO-2"]
    assert store.work_orders(chamber_id="ETCH-01/A").work_order_id.tolist() == ["WO-1", "WO-2"]  # WO-2 is tool-wide
    assert store.work_orders(chamber_id="ETCH-01/B").work_order_id.tolist() == ["WO-2"]
    assert store.work_orders(kind="pm").work_order_id.tolist() == ["WO-1"]
    assert store.work_orders(equipment_id="CVD-01").empty


def test_energy_by_meter(fab):
    store, _ = fab
    e = store.energy(meter_id="M-ETCH-01", start=T0, end=T0 + timedelta(hours=1))
    assert e.kwh.tolist() == [3.0, 4.0, 5.0, 6.0] and (e.equipment_id == "ETCH-01").all()
    assert len(store.energy(equipment_id="ETCH-01")) == 8 and store.energy(meter_id="nope").empty


def test_alarms_faults_documents_reference(fab):
    store, batch = fab
    assert store.alarms(chamber_id="ETCH-01/B").alarm_id.tolist() == ["A-1"]
    assert store.alarms(state=["acknowledged", "cleared"]).empty
    f = store.injected_faults()
    assert f.fault_type.tolist() == ["rf_match_degradation"] and f.repaired_by.tolist() == ["WO-2"]
    assert [x.doc_id for x in store.documents(kind="fmea")] == ["FMEA-DRYETCH-X"]
    assert len(store.documents(type_id="DRYETCH-X")) == 2
    assert [c.chamber_id for c in store.chambers()] == ["ETCH-01/A", "ETCH-01/B"]
    assert store.chambers(type_id="CVD-X") == []
    assert store.chamber("ETCH-01/A").type_id == "DRYETCH-X"
    with pytest.raises(KeyError, match="ETCH-09/Z"):
        store.chamber("ETCH-09/Z")
    cf = store.chambers_frame()
    assert cf.columns.tolist() == ["chamber_id", "equipment_id", "type_id", "area_id", "process"]
    assert cf.process.tolist() == ["etch", "etch"]
    assert [s.step_id for s in store.steps()] == ["S10-ETCH", "S20-ETCH"]
    assert store.products()[0].route == ("S10-ETCH", "S20-ETCH")
    assert store.equipment()[0].equipment_id == "ETCH-01" and store.energy_meters()[0].meter_id == "M-ETCH-01"
    assert store.equipment_types()[0].process == "etch"


def test_empty_store_gives_empty_typed_frames(any_store):
    runs = any_store.runs()
    assert runs.empty and {"run_id", "start", "equipment_id"} <= set(runs.columns)
    assert isinstance(runs.start.dtype, pd.DatetimeTZDtype)
    assert any_store.lot_history().empty and any_store.inspections().empty and any_store.quarantined().empty


def test_export_parquet(fab, tmp_path):
    store, batch = fab
    path = store.export_parquet("runs", tmp_path / "out" / "runs.parquet", chunk_rows=5)
    table = pq.read_table(path).to_pandas()
    assert sorted(table.run_id) == sorted(r.run_id for r in batch.runs)
    assert str(table.start.dtype).startswith("datetime64") and table.setpoints[0] == '{"RF_FWD": 1500.0}'
    empty = pq.read_table(store.export_parquet("readings", tmp_path / "readings.parquet"))
    assert empty.num_rows == 0 and "value" in empty.column_names
    with pytest.raises(KeyError, match="nope"):
        store.export_parquet("nope", tmp_path / "x.parquet")
