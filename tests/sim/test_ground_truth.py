"""The simulator's ground truth: faults move their sensors in the library's direction and lower yields."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.sim import Simulator
from fabmind.sim.equipment import TYPES
from fabmind.sim.faults import FAULT_LIBRARY
from fabmind.sim.physics import active_mask


def _by_id(records, key):
    return {getattr(r, key): r for r in records}


def _active_means(trace, spec) -> np.ndarray:
    mask = active_mask(spec)
    return (trace.values * mask).sum(0) / np.maximum(mask.sum(0), 1)


@pytest.fixture(scope="module")
def paired():
    """The same small fab with and without one fault (no repair in the window, so dispatch is identical)."""
    healthy = Simulator(seed=11, scale="small", documents=False).run(days=3)
    sim = Simulator(seed=11, scale="small", documents=False)
    sim.inject("rf_match_degradation", "ETCH-01/B", start=1.0, severity=0.8, duration_days=10)
    return healthy, sim.run(days=3)


def test_injected_fault_is_recorded_as_ground_truth(paired):
    _, faulty = paired
    (f,) = faulty.faults
    assert (f.fault_type, f.chamber_id, f.severity, f.end) == ("rf_match_degradation", "ETCH-01/B", 0.8, None)
    assert faulty.batch.injected_faults[0] == f
    assert faulty.fault_runs(f.fault_id), "the fault must touch some runs"


def test_fault_moves_its_sensors_in_the_library_direction(paired):
    healthy, faulty = paired
    f = faulty.faults[0]
    ft = FAULT_LIBRARY[f.fault_type]
    spec = TYPES["DRYETCH-X"]
    sigma = np.array([s.noise for s in spec.sensors])
    h, b = _by_id(healthy.batch.traces, "run_id"), _by_id(faulty.batch.traces, "run_id")
    assert h.keys() == b.keys()
    touched = set(faulty.fault_runs(f.fault_id))
    diffs = np.array([_active_means(b[r], spec) - _active_means(h[r], spec) for r in touched])
    untouched = [r for r in b if r not in touched]
    assert all(np.array_equal(b[r].values, h[r].values) for r in untouched[:200]), "other runs must not change"
    shift_sigma = diffs.mean(0) / sigma
    for name, direction in ft.sensors.items():
        j = spec.sensor_index(name)
        assert np.sign(shift_sigma[j]) == direction, name
        assert abs(shift_sigma[j]) > 0.3 * ft.sigmas[name], (name, shift_sigma[j])
    others = [j for j, s in enumerate(spec.sensors) if s.name not in ft.sensors]
    assert np.abs(shift_sigma[others]).max() < 0.5


def test_fault_lowers_yield_of_glass_through_the_chamber(paired):
    healthy, faulty = paired
    touched = {r.substrate_id for r in faulty.batch.runs if r.run_id in set(faulty.fault_runs(faulty.faults[0].fault_id))}
    yh = {y.substrate_id: y.yield_pct for y in healthy.batch.yields if y.substrate_id}
    yf = {y.substrate_id: y.yield_pct for y in faulty.batch.yields if y.substrate_id}
    hit = [s for s in touched if s in yf]
    assert len(hit) >= 10
    drop = np.array([yh[s] - yf[s] for s in hit])
    assert drop.mean() > 3.0 and (drop > 0).mean() > 0.8
    spared = [s for s in yf if s not in touched]
    assert abs(np.mean([yh[s] - yf[s] for s in spared])) < 1.5


def test_default_faults_in_small_fab_move_sensors_vs_before(small_fab):
    """Against the same chamber before the fault, per recipe: the strongest sensor moves the right way."""
    batch = small_fab.batch
    traces = _by_id(batch.traces, "run_id")
    assert len(small_fab.faults) >= 3
    for f in small_fab.faults:
        ft = FAULT_LIBRARY[f.fault_type]
        spec = TYPES[small_fab.layout.chamber_type[f.chamber_id]]
        name = max(ft.sigmas, key=ft.sigmas.get)
        j = spec.sensor_index(name)
        runs = [r for r in batch.runs if r.chamber_id == f.chamber_id]
        shifts = []
        for recipe in {r.recipe_id for r in runs}:
            before = np.array([_active_means(traces[r.run_id], spec)[j] for r in runs if r.recipe_id == recipe and r.start < f.start])
            during = [_active_means(traces[r.run_id], spec)[j] for r in runs if r.recipe_id == recipe and r.start >= f.start
                      and (f.end is None or r.start < f.end)]
            if len(before) >= 5 and len(during) >= 5:  # robust z: designed-experiment runs are outliers
                mad = 1.4826 * np.median(np.abs(before - np.median(before)))
                shifts.append((np.median(during) - np.median(before)) / (mad + 1e-9))
        assert shifts, f"no comparable runs for {f.fault_id}"
        assert np.sign(np.mean(shifts)) == ft.sensors[name] and abs(np.mean(shifts)) > 2, (f, name, shifts)


def test_default_faults_show_in_yield_and_defects(small_fab):
    batch = small_fab.batch
    y = {r.substrate_id: r.yield_pct for r in batch.yields if r.substrate_id}
    n_def = {i.substrate_id: i.defect_count for i in batch.inspections if i.inspection_id.endswith("-AOI")}
    for f in small_fab.faults:
        ft = FAULT_LIBRARY[f.fault_type]
        tool = f.chamber_id.split("/")[0]
        during = [r for r in batch.runs if r.equipment_id == tool and r.start >= f.start and (f.end is None or r.start < f.end)]
        hit = {r.substrate_id for r in during if r.chamber_id == f.chamber_id} & y.keys()
        spared = {r.substrate_id for r in during if r.chamber_id != f.chamber_id} & y.keys() - hit
        if len(hit) < 10 or len(spared) < 10:
            continue
        assert np.mean([y[s] for s in hit]) < np.mean([y[s] for s in spared]) - 2, f
        assert np.mean([n_def[s] for s in hit]) > np.mean([n_def[s] for s in spared]) + 1, f
        classes = [d.defect_class for d in batch.defects if d.substrate_id in hit]
        assert ft.defect_class in classes
