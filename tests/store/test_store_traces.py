"""Run traces: exact float32 round trip, windows, replay (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from store_fab_data import T0, small_batch, trace

from fabmind import domain as d


def test_traces_round_trip_exactly(any_store):
    batch = small_batch()
    assert any_store.write_traces(batch.traces) == len(batch.traces)
    got = any_store.traces([t.run_id for t in batch.traces])
    assert list(got) == [t.run_id for t in batch.traces]  # in the order asked
    for t in batch.traces:
        g = got[t.run_id]
        assert g.values.dtype == np.float32 and g.values.shape == t.values.shape
        assert np.array_equal(g.values, t.values)  # bit-exact float32
        assert np.array_equal(g.step_index, t.step_index)
        assert (g.sensors, g.chamber_id, g.start, g.dt_s) == (t.sensors, t.chamber_id, t.start, t.dt_s)
    g.values[0, 0] = 0.0  # returned arrays are the caller's own


def test_extreme_float32_values_survive(any_store):
    t = trace("R-X", "ETCH-01/A", T0, n=4)
    vals = np.array([[np.finfo(np.float32).max, np.finfo(np.float32).tiny, -0.0]] * 4, dtype=np.float32)
    t = d.RunTrace(**{**t.model_dump(), "values": vals})
    any_store.write_traces([t])
    assert any_store.traces(["R-X"])["R-X"].values.tobytes() == vals.tobytes()


def test_traces_missing_runs_are_absent(any_store):
    any_store.write_traces([trace("R-1", "ETCH-01/A", T0)])
    assert list(any_store.traces(["R-404", "R-1"])) == ["R-1"]


def test_trace_replay_and_replace(any_store):
    t = trace("R-1", "ETCH-01/A", T0, seed=1)
    any_store.write_traces([t])
    any_store.write_traces([t])
    assert any_store.counts()["traces"] == 1
    t2 = trace("R-1", "ETCH-01/A", T0, n=30, seed=2)  # corrected trace for the same run replaces it
    any_store.write_traces([t2])
    assert np.array_equal(any_store.traces(["R-1"])["R-1"].values, t2.values)


def test_iter_traces_window_and_order(any_store):
    traces = [trace(f"R-{i}", "ETCH-01/A" if i % 2 else "ETCH-01/B", T0 + timedelta(minutes=i)) for i in range(10)]
    any_store.write_traces(list(reversed(traces)))
    got = list(any_store.iter_traces("ETCH-01/A", T0 + timedelta(minutes=3), T0 + timedelta(minutes=9), batch=2))
    assert [t.run_id for t in got] == ["R-3", "R-5", "R-7"]
    assert len(list(any_store.iter_traces())) == 10


def test_runs_of_a_chamber_with_their_traces(any_store):
    batch = small_batch()
    any_store.write_batch(batch)
    pairs = any_store.runs_with_traces("ETCH-01/A")
    expected = [r for r in batch.runs if r.chamber_id == "ETCH-01/A"]
    assert [r.run_id for r, _ in pairs] == [r.run_id for r in sorted(expected, key=lambda r: r.start)]
    assert all(t is not None and t.run_id == r.run_id for r, t in pairs)
