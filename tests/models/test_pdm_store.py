"""Failure-risk models trained from a store (labels = corrective work orders) and a chamber's current risk."""

from __future__ import annotations

import pytest

from fabmind.models.base import ModelError
from fabmind.models.pdm_store import PDM_NAME, chamber_risk, train_store_pdm
from fabmind.models.registry import ModelRegistry
from fabmind.sim import Simulator
from fabmind.store import Store


@pytest.fixture(scope="module")
def failing_fab(tmp_path_factory):
    """A small fab where two etch chambers degrade and are repaired by corrective work orders."""
    sim = Simulator(seed=21, scale="small", documents=False)
    sim.inject("rf_match_degradation", "ETCH-01/B", start=0.5, severity=0.9, duration_days=1.5)
    sim.inject("rf_match_degradation", "ETCH-01/A", start=2.5, severity=0.9, duration_days=1.5)
    result = sim.run(days=5)
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('pdm') / 'fab.db'}")
    store.write_batch(result.batch)
    yield store
    store.close()


@pytest.fixture(scope="module")
def trained(failing_fab, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    return registry, train_store_pdm(failing_fab, registry, n_estimators=60)


def test_one_model_per_type_with_failures_and_a_reason_for_the_others(failing_fab, trained):
    registry, results = trained
    cm = failing_fab.work_orders(kind="cm")
    assert len(cm) >= 2, "the injected faults must end in corrective work orders"
    by_type = {r.type_id: r for r in results}
    etch = by_type["DRYETCH-X"]
    assert etch.version is not None and etch.failures >= 2
    assert registry.active(PDM_NAME, "DRYETCH-X").version == etch.version.version
    meta = registry.load(PDM_NAME, "DRYETCH-X").metadata_
    assert meta.params["horizon_h"] == 24.0 and meta.metrics["failures"] == etch.failures
    for r in results:
        if r.failures == 0:
            assert r.version is None and "nothing to learn" in r.reason


def test_chamber_risk_uses_the_type_model_and_explains_it(failing_fab, trained):
    risk = chamber_risk(failing_fab, trained[0], "ETCH-01/B")
    assert risk is not None and 0.0 <= risk.risk <= 1.0
    assert risk.model_version.startswith(f"{PDM_NAME}:DRYETCH-X")
    assert risk.drivers and all(d.feature for d in risk.drivers)


def test_chamber_risk_without_model_or_for_unknown_chamber(failing_fab, tmp_path):
    empty = ModelRegistry(tmp_path / "none")
    assert chamber_risk(failing_fab, empty, "ETCH-01/B") is None
    with pytest.raises(ModelError, match="unknown chamber"):
        chamber_risk(failing_fab, empty, "NOPE-99/Z")
