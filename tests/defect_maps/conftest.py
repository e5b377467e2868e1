"""Fixtures of the defect-map tests: a small classifier trained once, the small fab with patterned maps."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pattern_maps():
    """Training and held-out simulated maps (glass and wafers, all classes)."""
    from fabmind.sim.defect_maps import simulate_maps

    return simulate_maps(1800, seed=21), simulate_maps(450, seed=22)


@pytest.fixture(scope="session")
def pattern_classifier(pattern_maps):
    from fabmind.models.defect_maps import DefectPatternClassifier

    train, _ = pattern_maps
    return DefectPatternClassifier(n_estimators=80).fit_maps(train)


@pytest.fixture(scope="session")
def patterned_fab(small_fab):
    """The small demo fab with its AOI defects re-placed by the faults' patterns."""
    from fabmind.sim.defect_maps import apply_patterns

    return apply_patterns(small_fab, seed=7)


@pytest.fixture(scope="session")
def patterned_store(patterned_fab, tmp_path_factory):
    """The patterned fab's plant, route history, inspections and defects in SQLite (no traces)."""
    from dataclasses import replace

    from fabmind.store import Store

    batch = replace(patterned_fab.result.batch, traces=[], documents=[], energy_readings=[])
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('dm') / 'fab.db'}")
    store.write_batch(batch)
    yield store
    store.close()
