"""The simulator's own AOI maps follow the injected faults; the default classifier is trained once and cached."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.sim.faults import FAULT_LIBRARY


def test_simulated_fab_carries_patterned_maps(small_fab):
    """``simulate`` (defect maps on by default): every AOI glass has its true pattern, and a glass touched by one
    fault shows that fault's pattern with many more defects than a clean glass."""
    batch = small_fab.batch
    aoi = {i.substrate_id: i for i in batch.inspections if i.inspection_id.endswith("-AOI")}
    assert set(small_fab.map_patterns) == set(aoi)
    pattern_of = {f.fault_id: FAULT_LIBRARY[f.fault_type].defect_pattern for f in small_fab.faults}
    single = {s: fids[0] for s, fids in small_fab.map_faults.items() if len(fids) == 1}
    visible = [s for s, f in single.items() if small_fab.map_patterns[s] != "none"]
    assert len(visible) >= 20
    assert all(small_fab.map_patterns[s] == pattern_of[single[s]] for s in visible)
    n = {s: i.defect_count for s, i in aoi.items()}
    clean = [n[s] for s, p in small_fab.map_patterns.items() if p == "none" and not small_fab.map_faults.get(s)]
    assert np.median([n[s] for s in visible]) > 3 * max(np.median(clean), 1)
    per_sub: dict[str, int] = {}
    for d in batch.defects:
        per_sub[d.substrate_id] = per_sub.get(d.substrate_id, 0) + 1
    assert all(per_sub.get(s, 0) == n[s] for s in aoi)  # the AOI count is the map's count


def test_maps_change_only_the_aoi_defects(small_fab):
    """Same seed without maps: identical runs and yields (the maps have their own random stream); the
    simulator's own placement leaves far fewer defects on the glasses a fault touched."""
    from fabmind.sim import simulate

    sparse = simulate(days=4, seed=7, scale="small", defect_maps=False, documents=False)
    assert sparse.map_patterns == {}
    assert [r.run_id for r in sparse.batch.runs] == [r.run_id for r in small_fab.batch.runs]
    assert sparse.batch.yields == small_fab.batch.yields
    assert sparse.run_faults == small_fab.run_faults
    faulty = {s for s, p in small_fab.map_patterns.items() if p != "none"}
    dense_n = [i.defect_count for i in small_fab.batch.inspections if i.substrate_id in faulty
               and i.inspection_id.endswith("-AOI")]
    sparse_n = [i.defect_count for i in sparse.batch.inspections if i.substrate_id in faulty
                and i.inspection_id.endswith("-AOI")]
    assert np.median(sparse_n) < 20 <= np.median(dense_n)


def test_default_classifier_is_cached_on_disk(tmp_path, monkeypatch):
    from fabmind.models import defect_map_causes as causes
    from fabmind.models import defect_maps as dm
    from fabmind.models.defect_maps import DefectPatternClassifier

    monkeypatch.setattr(causes, "_TRAINED", {})
    trained = []
    real = dm.train_pattern_classifier

    def counting(n_maps: int, seed: int) -> DefectPatternClassifier:
        trained.append((n_maps, seed))
        return real(n_maps=n_maps, seed=seed, n_estimators=20)

    monkeypatch.setattr(dm, "train_pattern_classifier", counting)
    first = causes.default_classifier(n_maps=270, seed=3, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    fp = causes.classifier_fingerprint(270, 3)
    assert files == [f"defect_pattern-{fp}.json", f"defect_pattern-{fp}.pkl"] and trained == [(270, 3)]
    assert causes.default_classifier(n_maps=270, seed=3, cache_dir=tmp_path) is first  # in-process
    monkeypatch.setattr(causes, "_TRAINED", {})  # a new process: loads the file, does not train
    again = causes.default_classifier(n_maps=270, seed=3, cache_dir=tmp_path)
    assert trained == [(270, 3)] and again is not first
    from fabmind.sim.defect_maps import simulate_maps

    probe = simulate_maps(9, seed=8)
    assert [p.probabilities for p in again.classify_maps(probe)] == [p.probabilities for p in first.classify_maps(probe)]
    assert causes.classifier_fingerprint(271, 3) != fp and causes.classifier_fingerprint(270, 4) != fp
    monkeypatch.setattr(causes, "_TRAINED", {})
    (tmp_path / f"defect_pattern-{fp}.pkl").write_bytes(b"not a model")  # damaged: trained again, rewritten
    causes.default_classifier(n_maps=270, seed=3, cache_dir=tmp_path)
    assert trained == [(270, 3), (270, 3)]
    assert (tmp_path / f"defect_pattern-{fp}.pkl").stat().st_size > 1000


@pytest.mark.parametrize("n_defects, classified", [(9, False), (10, True)])
def test_sparse_maps_are_not_classified(n_defects, classified, pattern_classifier):
    """A map under MIN_DEFECTS defects counts as 'none' without being classified."""
    from fabmind.models.defect_map_causes import MIN_DEFECTS, pattern_evidence
    from fabmind.sim.defect_maps import GLASS, generate_map

    assert MIN_DEFECTS == 10
    m = generate_map("center", np.random.default_rng(1), GLASS, n_pattern=n_defects, background=0, substrate_id="G1")

    class EmptyStore:
        def lot_history(self):
            import pandas as pd

            return pd.DataFrame(columns=["substrate_id", "lot_id", "step_id", "chamber_id", "start"])

        def chambers_frame(self):
            import pandas as pd

            return pd.DataFrame(columns=["chamber_id", "process"])

    rep = pattern_evidence(EmptyStore(), classifier=pattern_classifier, maps=[m])
    (pred,) = rep.predictions
    assert rep.n_sparse == (0 if classified else 1)
    assert (pred.probability == pred.probability) is classified  # nan when not classified
    if not classified:
        assert pred.pattern == "none" and rep.counts == {"none": 1}
