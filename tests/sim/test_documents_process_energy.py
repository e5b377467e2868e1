"""Documents (manuals, SOPs, FMEA, tickets), the process ground truth and energy."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from fabmind.sim import FAULT_LIBRARY, Simulator
from fabmind.sim.documents import FMEA_COLUMNS, TICKET_COLUMNS, write_documents
from fabmind.sim.equipment import TYPES
from fabmind.sim.energy import ENERGY_WASTE
from fabmind.sim.faults import ALARM_TEXT
from fabmind.sim.process import ChamberState, default_setpoints, optimum, response
from fabmind.sim.recipes import RECIPES


def _rows(doc) -> list[dict]:
    return list(csv.DictReader(io.StringIO(doc.content)))


def _doc(batch, kind):
    return [d for d in batch.documents if d.kind == kind]


def test_fault_library_is_complete_and_consistent():
    assert len(FAULT_LIBRARY) >= 8
    patterns = set()
    for ft in FAULT_LIBRARY.values():
        assert ft.sensors and set(ft.sensors) == set(ft.sigmas)
        assert set(ft.sensors.values()) <= {1, -1}
        assert ft.alarm_codes and all(c in ALARM_TEXT for c in ft.alarm_codes)
        assert ft.root_cause and ft.repair and ft.defect_class and ft.yield_effect > 0
        for proc in ft.equipment_process:
            spec = next(t for t in TYPES.values() if t.process == proc)
            for name in ft.sensors:
                spec.sensor_index(name)  # raises if the type lacks the sensor
        patterns.add(ft.defect_pattern)
    assert len(patterns) >= 5
    signatures = {tuple(sorted(ft.sensors.items())) for ft in FAULT_LIBRARY.values()}
    assert len(signatures) == len(FAULT_LIBRARY), "every fault needs its own sensor signature"


def test_documents_fmea_and_tickets(small_fab, tmp_path):
    b = small_fab.batch
    (fmea,) = _doc(b, "fmea")
    rows = _rows(fmea)
    assert tuple(rows[0]) == FMEA_COLUMNS
    modes = {(r["equipment_type"], r["failure_mode"]) for r in rows}
    for ft in FAULT_LIBRARY.values():
        for t in TYPES.values():
            if t.process in ft.equipment_process:
                assert (t.type_id, ft.failure_mode) in modes
    rf = next(r for r in rows if r["failure_mode"] == FAULT_LIBRARY["rf_match_degradation"].failure_mode)
    assert "RF_REFL_W:up" in rf["symptoms"] and "E-RF-101" in rf["alarm_codes"]
    (tickets,) = _doc(b, "ticket")
    rows = _rows(tickets)
    assert len(rows) >= 200 and tuple(rows[0]) == TICKET_COLUMNS
    known = {ft.failure_mode: ft for ft in FAULT_LIBRARY.values()}
    in_lib = [r for r in rows if r["failure_mode"] in known]
    assert len(in_lib) > 0.8 * len(rows)
    for r in in_lib:
        ft = known[r["failure_mode"]]
        for part in r["sensors"].split("; "):
            name, d = part.split(":")
            assert ft.sensors[name] == (1 if d == "up" else -1)
    assert len({r["symptom_text"] for r in rows}) > 0.9 * len(rows), "wording must vary"
    assert len({r["root_cause"] for r in in_lib}) >= 2 * len({r["failure_mode"] for r in in_lib})
    manuals = _doc(b, "manual")
    assert len(manuals) == 3 and len(_doc(b, "sop")) >= 5
    etch = next(m for m in manuals if m.type_id == "DRYETCH-X")
    assert "## " in etch.content and "E-CHK-401" in etch.content and "HE_BACKSIDE_FLOW_SCCM" in etch.content
    paths = write_documents(b, tmp_path)
    assert len(paths) == len(b.documents) and all(p.stat().st_size > 100 for p in paths)
    assert (tmp_path / "TICKETS-FAB1.csv").exists() and (tmp_path / "MAN-PECVD-X.md").exists()


def test_process_response_has_an_inner_optimum_away_from_default():
    for rid, recipe in RECIPES.items():
        best, base = optimum(rid), default_setpoints(rid)
        assert best != base
        for p in recipe.params:
            assert p.low <= best[p.name] <= p.high
        y_best = response(rid, best)["yield_pct"]
        assert y_best > response(rid, base)["yield_pct"] + 0.5
        rng = np.random.default_rng(0)
        for _ in range(20):  # the optimum beats random points inside the limits
            sp = {p.name: rng.uniform(p.low, p.high) for p in recipe.params}
            assert response(rid, sp)["yield_pct"] < y_best
        assert response(rid, best)[recipe.outcome] == pytest.approx(recipe.target)
    faulty = response("CVD-SIN-GI", optimum("CVD-SIN-GI"), ChamberState(2.0, {"mfc_drift": 0.8}))
    assert faulty["yield_pct"] < 99 and faulty["thickness_nm"] < 400 * 0.95
    with pytest.raises(KeyError, match="no parameter"):
        response("CVD-SIN-GI", {"SPIN_RPM": 1.0})


def test_runs_outcomes_follow_setpoints(small_fab):
    """Measured thickness rises with RF power (the surrogate-learnable relation)."""
    b = small_fab.batch
    runs = {(r.substrate_id, r.step_id): r for r in b.runs}
    x, y = [], []
    for i in b.inspections:
        r = runs.get((i.substrate_id, i.step_id))
        if r is not None and r.recipe_id == "CVD-SIN-GI" and "thickness_nm" in i.measurements:
            x.append(r.setpoints["RF_POWER_W"])
            y.append(i.measurements["thickness_nm"])
    assert len(x) > 20 and np.corrcoef(x, y)[0, 1] > 0.3


def test_energy_waste_and_meters():
    def kwh(result, meter):
        return np.array([e.kwh for e in result.batch.energy_readings if e.meter_id == meter])

    base = Simulator(seed=5, scale="small", documents=False, traces=False).run(days=2)
    sim = Simulator(seed=5, scale="small", documents=False, traces=False)
    sim.inject_energy_waste("idle_no_standby", "PHO-01", start=0.5)
    sim.inject_energy_waste("exhaust_damper_stuck_open", "ETCH-01", start=1.0, severity=0.5)
    waste = sim.run(days=2)
    assert [w.fault_type for w in waste.energy_waste] == ["idle_no_standby", "exhaust_damper_stuck_open"]
    assert len(kwh(base, "EM-CVD-01")) == 2 * 96
    extra_etch = kwh(waste, "EM-ETCH-01") - kwh(base, "EM-ETCH-01")
    assert extra_etch[:90].mean() == pytest.approx(0, abs=0.05)
    assert extra_etch[100:].mean() == pytest.approx(ENERGY_WASTE["exhaust_damper_stuck_open"].extra_kw * 0.5 / 4, rel=0.2)
    assert kwh(waste, "EM-PHO-01")[48:].sum() > kwh(base, "EM-PHO-01")[48:].sum() * 1.05
    with pytest.raises(KeyError):
        sim.inject_energy_waste("perpetual_motion", "PHO-01", start=0.5)
