"""Each pattern generator puts its defects where the cause would, on glass and on wafers."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.sim.defect_maps import (
    GLASS,
    NOVEL_PATTERNS,
    PATTERNS,
    WAFER_300,
    DefectMap,
    Geometry,
    generate_map,
    simulate_maps,
    substrate_mask,
)

GEOMS = (GLASS, WAFER_300)


def _unit(m: DefectMap):
    u, v = m.geometry.to_unit(m.x_mm, m.y_mm)
    r = np.hypot(u, v) if m.geometry.kind == "wafer" else np.maximum(np.abs(u), np.abs(v))
    return u, v, r


def _maps(pattern: str, geometry: Geometry, k: int = 20, n: int = 150):
    rng = np.random.default_rng(5)
    return [generate_map(pattern, rng, geometry, n_pattern=n, background=0) for _ in range(k)]


@pytest.mark.parametrize("geometry", GEOMS, ids=lambda g: g.kind)
@pytest.mark.parametrize("pattern", PATTERNS + NOVEL_PATTERNS)
def test_every_pattern_stays_on_the_substrate_and_bins_all_defects(pattern, geometry):
    for m in _maps(pattern, geometry, k=5):
        assert m.geometry.contains(m.x_mm, m.y_mm).all()
        assert m.binned().shape == (64, 64) and m.binned().sum() == m.n_defects
        assert m.pattern == pattern
        assert (m.n_defects == 0) == (pattern == "none")
        assert m.binned()[~substrate_mask(geometry.kind)].sum() == 0


@pytest.mark.parametrize("geometry", GEOMS, ids=lambda g: g.kind)
def test_radial_patterns_sit_at_their_radius(geometry):
    edge = np.concatenate([_unit(m)[2] for m in _maps("edge_ring", geometry)])
    center = np.concatenate([_unit(m)[2] for m in _maps("center", geometry)])
    donut = np.concatenate([_unit(m)[2] for m in _maps("donut", geometry)])
    assert np.mean(edge > 0.85) > 0.9
    assert np.mean(center < 0.5) > 0.85
    assert 0.25 < np.median(donut) < 0.75 and np.mean(donut < 0.15) < 0.05


@pytest.mark.parametrize("geometry", GEOMS, ids=lambda g: g.kind)
def test_edge_ring_goes_round_but_edge_loc_stays_local(geometry):
    def resultant(m):
        u, v, _ = _unit(m)
        t = np.arctan2(v, u)
        return np.hypot(np.cos(t).mean(), np.sin(t).mean())

    ring = np.median([resultant(m) for m in _maps("edge_ring", geometry)])
    loc = np.median([resultant(m) for m in _maps("edge_loc", geometry)])
    assert loc > 0.6 and ring < 0.45
    assert np.mean(np.concatenate([_unit(m)[2] for m in _maps("edge_loc", geometry)]) > 0.75) > 0.9


def test_scratch_is_a_line_and_cluster_a_tight_blob():
    def eig(m):
        u, v, _ = _unit(m)
        return np.sort(np.linalg.eigvalsh(np.cov(np.vstack([u, v]))))

    for m in _maps("scratch", GLASS, k=10):
        small, big = eig(m)
        assert small / big < 0.05  # elongated
    from scipy.spatial import cKDTree

    def nn(m):
        u, v, _ = _unit(m)
        pts = np.column_stack([u, v])
        return np.median(cKDTree(pts).query(pts, k=2)[0][:, 1])

    assert max(nn(m) for m in _maps("cluster", WAFER_300, k=10)) < 0.03  # one or two tight blobs
    assert min(nn(m) for m in _maps("random", WAFER_300, k=10)) > 0.05


def test_random_spreads_evenly_and_none_is_background_only():
    m = generate_map("random", np.random.default_rng(1), GLASS, n_pattern=2000, background=0)
    u, v, _ = _unit(m)
    quadrants = np.bincount((u > 0).astype(int) * 2 + (v > 0).astype(int), minlength=4)
    assert quadrants.min() > 0.2 * m.n_defects
    rng = np.random.default_rng(2)
    nones = [generate_map("none", rng, GLASS) for _ in range(200)]
    assert max(n.n_defects for n in nones) < 60 and np.mean([n.n_defects for n in nones]) > 1


def test_mixed_has_two_components_and_generation_is_seeded():
    rng = np.random.default_rng(3)
    for _ in range(10):
        m = generate_map("mixed", rng, WAFER_300)
        assert len(set(m.components)) == 2 and "none" not in m.components
    a, b = simulate_maps(30, seed=4), simulate_maps(30, seed=4)
    assert all(np.array_equal(x.x_mm, y.x_mm) for x, y in zip(a, b))
    assert {m.pattern for m in a} == set(PATTERNS)
    assert {m.geometry.kind for m in a} == {"glass", "wafer"}


def test_geometry_rejects_nonsense():
    with pytest.raises(ValueError, match="round"):
        Geometry("wafer", 300, 200)
    with pytest.raises(ValueError, match="positive"):
        Geometry.glass(0, 920)
    assert not WAFER_300.contains(np.array([5.0]), np.array([5.0]))[0]  # inside the box, outside the disc
    assert GLASS.contains(np.array([730.0]), np.array([0.0]))[0]


def test_apply_patterns_follows_the_injected_faults(small_fab, patterned_fab):
    from fabmind.sim.defect_maps import apply_patterns
    from fabmind.sim.faults import FAULT_LIBRARY

    truth = patterned_fab
    batch = truth.result.batch
    assert batch.defects and small_fab.batch.defects is not batch.defects  # the input is not changed
    assert batch.yields == small_fab.batch.yields
    x = np.array([d.x_mm for d in batch.defects])
    y = np.array([d.y_mm for d in batch.defects])
    assert GLASS.contains(x, y).all()
    per_fault = {f.fault_id: FAULT_LIBRARY[f.fault_type].defect_pattern for f in small_fab.faults}
    single = [s for s, fids in truth.faults.items() if len(fids) == 1 and truth.patterns[s] != "none"]
    assert len(single) >= 10
    assert all(truth.patterns[s] == per_fault[truth.faults[s][0]] for s in single)
    assert "none" in truth.patterns.values()
    counts = {i.inspection_id: i.defect_count for i in batch.inspections if i.inspection_id.endswith("-AOI")}
    per_ins: dict[str, int] = {}
    for d in batch.defects:
        per_ins[d.inspection_id] = per_ins.get(d.inspection_id, 0) + 1
    assert all(counts[k] == v for k, v in per_ins.items())
    again = apply_patterns(small_fab, seed=7)
    assert [d.x_mm for d in again.result.batch.defects[:50]] == [d.x_mm for d in batch.defects[:50]]
