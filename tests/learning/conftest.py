"""Shared by the learning tests: the small fab with one chamber-pressure gauge recalibrated, or flaky."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from _recal_fab import CHAMBER, SENSOR

from fabmind.models.drift import flaky, recalibrated


@pytest.fixture(scope="session")
def recal_store(small_fab, tmp_path_factory):
    """The small fab with CVD-01/B's chamber-pressure gauge recalibrated (+offset) from day 2.5 on."""
    from fabmind.store import Store

    fab = small_fab
    recal_at = fab.start + timedelta(days=2.5)
    ref_runs = [r for r in fab.batch.runs if r.chamber_id == CHAMBER and r.start < recal_at]
    by_id = {t.run_id: t for t in fab.batch.traces}
    j = by_id[ref_runs[0].run_id].sensors.index(SENSOR)
    run_means = [float(np.mean(by_id[r.run_id].values[:, j])) for r in ref_runs if r.run_id in by_id]
    offset = 3.0 * float(np.std(run_means))  # a recalibration worth three run-to-run sigmas
    traces = recalibrated(fab.batch.traces, CHAMBER, SENSOR, recal_at, offset)
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('drift') / 'recal.db'}")
    s.write_batch(fab.batch.__class__(**{**fab.batch.__dict__, "traces": traces}))
    yield s, fab.start, recal_at
    s.close()




@pytest.fixture(scope="session")
def flaky_store(small_fab, tmp_path_factory):
    """The small fab with CVD-01/A's chamber-pressure gauge flaky from day 1 (bursts on 60 % of its runs,
    6 run-to-run sigmas x |t3|); the fab's own chamber leak on CVD-01/A starts at day 2.58."""
    from fabmind.store import Store

    fab, chamber, sensor = small_fab, "CVD-01/A", SENSOR
    onset = fab.start + timedelta(days=1.0)
    by_id = {t.run_id: t for t in fab.batch.traces}
    ref_runs = [r for r in fab.batch.runs if r.chamber_id == chamber and r.start < onset and r.run_id in by_id]
    j = by_id[ref_runs[0].run_id].sensors.index(sensor)
    sigma = float(np.std([float(np.mean(by_id[r.run_id].values[:, j])) for r in ref_runs]))
    traces = flaky(fab.batch.traces, chamber, sensor, onset, 0.6, 6.0 * sigma, seed=1)
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('flaky') / 'flaky.db'}")
    s.write_batch(fab.batch.__class__(**{**fab.batch.__dict__, "traces": traces}))
    yield s, fab.start, chamber, sensor
    s.close()
