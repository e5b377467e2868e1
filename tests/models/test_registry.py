"""Registry: versions, active version per scope, rollback, resolution chamber -> equipment type."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.models.anomaly import MSPC, EWMAMonitor
from fabmind.models.base import ModelError
from fabmind.models.registry import ModelRegistry

X = np.random.default_rng(0).normal(size=(100, 4))


def test_register_list_activate_rollback(tmp_path):
    reg = ModelRegistry(tmp_path)
    v1 = reg.register(MSPC(n_components=1).fit(X), scope="ETCH-01/A", metrics={"far": 0.01})
    v2 = reg.register(MSPC(n_components=2).fit(X), scope="ETCH-01/A", note="retrained")
    assert [v.version for v in reg.versions("mspc", "ETCH-01/A")] == ["mspc:ETCH-01/A:v1", "mspc:ETCH-01/A:v2"]
    assert reg.active("mspc", "ETCH-01/A").number == 2 and v2.active
    assert reg.load("mspc", "ETCH-01/A").n_components_ == 2
    assert reg.load("mspc", "ETCH-01/A").metadata.version == "mspc:ETCH-01/A:v2"
    back = reg.rollback("mspc", "ETCH-01/A")
    assert back.version == v1.version and reg.load("mspc", "ETCH-01/A").n_components_ == 1
    assert back.metrics == {"far": 0.01}
    reg.activate("mspc", "ETCH-01/A", "mspc:ETCH-01/A:v2")
    assert reg.active("mspc", "ETCH-01/A").number == 2
    assert reg.load("mspc", "ETCH-01/A", version=1).n_components_ == 1


def test_unregistered_activation_does_not_change_active(tmp_path):
    reg = ModelRegistry(tmp_path)
    reg.register(EWMAMonitor().fit(X), scope="DRYETCH-X")
    reg.register(EWMAMonitor(lam=0.5).fit(X), scope="DRYETCH-X", activate=False)
    assert reg.active("ewma", "DRYETCH-X").number == 1
    with pytest.raises(ModelError, match="no version"):
        reg.activate("ewma", "DRYETCH-X", 7)
    with pytest.raises(ModelError, match="roll back"):
        reg.rollback("ewma", "DRYETCH-X")


def test_resolve_prefers_chamber_then_type(tmp_path):
    reg = ModelRegistry(tmp_path)
    reg.register(MSPC(n_components=1).fit(X), scope="DRYETCH-X")
    assert reg.resolve("mspc", "ETCH-02/B", "DRYETCH-X").scope == "DRYETCH-X"
    reg.register(MSPC(n_components=1).fit(X), scope="ETCH-02/B")
    assert reg.resolve("mspc", "ETCH-02/B", "DRYETCH-X").scope == "ETCH-02/B"
    assert reg.resolve("mspc", "ETCH-09/A") is None
    assert reg.scopes("mspc") == ["DRYETCH-X", "ETCH-02/B"] and reg.names() == ["mspc"]


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no model 'mspc'"):
        ModelRegistry(tmp_path).versions("mspc", "ETCH-01/A")
    with pytest.raises(ModelError, match="no active model"):
        ModelRegistry(tmp_path).load("mspc", "ETCH-01/A")


def test_versions_written_elsewhere_are_recorded_in_one_index_write(tmp_path):
    """What fleet training does: the driver reserves numbers, workers write files, the driver records them."""
    reg = ModelRegistry(tmp_path)
    reg.register(MSPC(n_components=1).fit(X), scope="ETCH-01/A")
    numbers = reg.next_numbers(["mspc"], ["ETCH-01/A", "ETCH-01/B"])
    assert numbers == {("mspc", "ETCH-01/A"): 2, ("mspc", "ETCH-01/B"): 1}
    worker = ModelRegistry(tmp_path)  # another process, same folder
    recs = [worker.save_version(MSPC(n_components=2).fit(X), name="mspc", scope=s, number=numbers[("mspc", s)])
            for s in ("ETCH-01/A", "ETCH-01/B")]
    assert reg.active("mspc", "ETCH-01/A").number == 1  # not visible before it is recorded
    again = worker.save_version(MSPC(n_components=2).fit(X), name="mspc", scope="ETCH-01/A", number=2)
    assert again["path"] == recs[0]["path"]  # a rerun task rewrites the same file
    versions = reg.add_saved(recs)
    assert [v.version for v in versions] == ["mspc:ETCH-01/A:v2", "mspc:ETCH-01/B:v1"]
    assert reg.load("mspc", "ETCH-01/A").metadata.version == "mspc:ETCH-01/A:v2"
    assert reg.rollback("mspc", "ETCH-01/A").number == 1
    with pytest.raises(ModelError, match="registered meanwhile"):
        reg.add_saved(recs[:1])
    ghost = dict(recs[1], number=9, version="mspc:ETCH-01/B:v9", path="mspc/ETCH-01__B/v9.pkl")
    with pytest.raises(ModelError, match="no model file"):
        reg.add_saved([ghost])
