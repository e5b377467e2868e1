"""Per-chamber FDC jobs on the executor: the same models in-process and on Dask, a killed worker's
tasks redone, idempotent registration and alarm writes."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
from datetime import UTC, timedelta

import numpy as np
import pandas as pd
import pytest

from fabmind.models.registry import ModelRegistry
from fabmind.scale import InProcessExecutor, make_executor
from fabmind.scale.jobs import backfill, score_fleet, train_chamber, train_fleet, windows

TRAIN_DAYS = 2.5


@pytest.fixture(scope="module")
def fab(demo_store, small_fab):
    start = small_fab.start
    return demo_store.url, start, start + timedelta(days=TRAIN_DAYS)


@pytest.fixture(scope="module")
def dask_ex():
    pytest.importorskip("dask.distributed")
    ex = make_executor("local", n_workers=2)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def in_process(fab, tmp_path_factory):
    url, start, end = fab
    reg = ModelRegistry(tmp_path_factory.mktemp("reg-local"))
    return reg, train_fleet(InProcessExecutor(), url, reg, start, end)


def _fitted(obj, path="m"):
    """Every learned number of a model, recursively (the metadata's timestamps left out)."""
    if isinstance(obj, (np.ndarray, int, float, str, bool)) or obj is None:
        yield path, obj
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            yield from _fitted(obj[k], f"{path}[{k}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _fitted(v, f"{path}[{i}]")
    elif hasattr(obj, "__dict__") or hasattr(obj, "__dataclass_fields__"):
        attrs = vars(obj) if hasattr(obj, "__dict__") else {f: getattr(obj, f) for f in obj.__dataclass_fields__}
        for k in sorted(attrs):
            if k != "metadata_":
                yield from _fitted(attrs[k], f"{path}.{k}")


def _state(reg):
    return {key: list(_fitted(reg.load(*key))) for key in reg.active_versions()}


def _assert_same_models(a, b):
    assert a.keys() == b.keys() and len(a) >= 16
    for k in a:
        assert [p for p, _ in a[k]] == [p for p, _ in b[k]], k
        for (path, x), (_, y) in zip(a[k], b[k]):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=f"{k} {path}")
            else:
                assert x == y or (pd.isna(x) and pd.isna(y)), (k, path, x, y)


def test_train_chamber_reads_its_own_slice(fab):
    url, start, end = fab
    res = train_chamber(url, "CVD-01/B", start, end)
    assert res.chamber_id == "CVD-01/B" and res.n_runs > 100
    assert set(res.models) == {"CVD-SIN-GI", "CVD-SIN-PAS", "CVD-SIO-ILD"}
    assert all(m.metadata.n_train >= 30 for m in res.models.values())


def test_dask_trains_the_same_fdc_models_as_in_process(fab, dask_ex, in_process, tmp_path):
    url, start, end = fab
    reg_local, fleet_local = in_process
    reg = ModelRegistry(tmp_path / "reg-dask")
    fleet = train_fleet(dask_ex, url, reg, start, end)
    assert len(fleet.versions) == len(fleet_local.versions) and fleet.runs == fleet_local.runs
    _assert_same_models(_state(reg_local), _state(reg))
    # and they score the same runs the same way
    a = score_fleet(InProcessExecutor(), url, reg_local, end, None)
    b = score_fleet(dask_ex, url, reg, end, None)
    assert a.n_scored == b.n_scored > 0
    assert sorted(x.alarm_id for x in a.alarms) == sorted(x.alarm_id for x in b.alarms)


def test_worker_killed_mid_training_job_completes_with_correct_models(fab, dask_ex, in_process, tmp_path):
    url, start, end = fab
    client = dask_ex.client
    workers = list(client.scheduler_info()["workers"])
    victim = workers[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    killed = []

    def kill_after_first(done, total):
        if not killed:  # the first task is back: the other worker is busy with its own -> kill -9 it now
            os.kill(pid, signal.SIGKILL)
            killed.append(done)

    reg = ModelRegistry(tmp_path / "reg-killed")
    fleet = train_fleet(dask_ex, url, reg, start, end, progress=kill_after_first)
    assert killed and fleet.chambers == 8
    _assert_same_models(_state(in_process[0]), _state(reg))


def test_rerun_registers_nothing_new(fab, in_process, tmp_path):
    url, start, end = fab
    reg = ModelRegistry(tmp_path / "reg")
    shutil.copytree(in_process[0].root, reg.root)
    before = {k: v.version for k, v in reg.active_versions().items()}
    again = train_fleet(InProcessExecutor(), url, reg, start, end)
    assert again.reused == len(again.versions) == len(before)
    assert {k: v.version for k, v in reg.active_versions().items()} == before
    other = train_fleet(InProcessExecutor(), url, reg, start, end - timedelta(hours=6), chambers=["CVD-01/A"])
    assert other.reused == 0 and all(v.number == 2 for v in other.versions)  # another window: new versions


def test_backfill_twice_duplicates_no_alarm(fab, in_process, tmp_path):
    import sqlite3

    from fabmind.store import Store

    url, _, end = fab

    path = tmp_path / "copy.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(path) as dst:
        src.backup(dst)  # a consistent copy (the session store may hold pages in its WAL)
    copy_url = f"sqlite:///{path}"
    reg = in_process[0]
    with Store(copy_url) as s:
        n0 = len(s.alarms())  # the simulator's own equipment alarms
    first = backfill(InProcessExecutor(), copy_url, reg, end, end + timedelta(days=1.5), step=timedelta(hours=12),
                     chambers=["CVD-01/A", "ETCH-01/A"])
    with Store(copy_url) as s:
        n1 = len(s.alarms())
    second = backfill(InProcessExecutor(), copy_url, reg, end, end + timedelta(days=1.5), step=timedelta(hours=12),
                      chambers=["CVD-01/A", "ETCH-01/A"])
    with Store(copy_url) as s:
        n2 = len(s.alarms())
    assert len(first.per_chamber) == 2 * 3 and len(first.alarms) == len(second.alarms) == n1 - n0 == n2 - n0 > 0


def test_windows_cover_the_period_without_gaps():
    from datetime import datetime

    a = datetime(2026, 1, 1, tzinfo=UTC)
    cuts = windows(a, a + timedelta(days=10), timedelta(days=3))
    assert cuts[0][0] == a and cuts[-1][1] == a + timedelta(days=10) and len(cuts) == 4
    assert all(x[1] == y[0] for x, y in itertools.pairwise(cuts))
    with pytest.raises(ValueError, match="positive"):
        windows(a, a, timedelta(0))


def test_fleet_models_equal_the_fabmind_train_path(fab, demo_store, in_process, tmp_path):
    """train_fleet gives the models `fabmind train` gives (PM ages included, responses pooled per recipe
    over chambers with the same columns), on a fab where only some chambers have a recorded PM."""
    from fabmind.models.fdc import store_pm_ends, train_store_fdc

    url, start, end = fab
    with_pm = {c for c, ends in store_pm_ends(demo_store).items() if any(t < end for t in ends)}
    assert 0 < len(with_pm) < len(demo_store.chambers()), "the fixture must mix chambers with and without PMs"
    reg = ModelRegistry(tmp_path / "reg-cli")
    train_store_fdc(demo_store, reg, start, end)
    _assert_same_models(_state(in_process[0]), _state(reg))


def test_capped_response_pool_is_the_same_sample_on_both_paths(fab, demo_store, tmp_path):
    """With the pooled response capped to a few chambers per recipe, the fleet path reads and pools the
    same chambers as `fabmind train` does, so the models stay identical."""
    from fabmind.models.fdc import FdcConfig, train_store_fdc

    url, start, end = fab
    config = FdcConfig(response_pool_max=2)
    a, b = ModelRegistry(tmp_path / "fleet"), ModelRegistry(tmp_path / "cli")
    train_fleet(InProcessExecutor(), url, a, start, end, config=config)
    train_store_fdc(demo_store, b, start, end, config)
    _assert_same_models(_state(a), _state(b))
