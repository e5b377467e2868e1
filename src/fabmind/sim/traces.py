"""Sensor traces of every run, generated chamber by chamber (one numpy array per chamber)."""

from __future__ import annotations

import numpy as np

from fabmind.sim.faults import FAULT_LIBRARY
from fabmind.sim.maintenance import PlannedFault
from fabmind.sim.physics import drift_vector, generate


def chamber_arrays(sim, runs, state, faults: list[PlannedFault]):
    """Yield ``(chamber_index, run indices, spec, values [n, samples, sensors])`` for every chamber with runs."""
    from fabmind.sim.engine import rng_for

    layout = sim.layout
    chambers = layout.chamber_ids
    bounds = np.searchsorted(runs.chamber, np.arange(len(chambers) + 1))  # runs are sorted by chamber
    by_chamber: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for fi, idx, s in state.strengths:
        by_chamber.setdefault(chambers.index(faults[fi].chamber_id), []).append((fi, idx, s))
    for ci, ch in enumerate(chambers):
        lo, hi = bounds[ci], bounds[ci + 1]
        if hi <= lo:
            continue
        spec = layout.type_of(ch)
        n = hi - lo
        rng = rng_for(sim.seed, "trace", ch)
        sigma = np.array([s.noise for s in spec.sensors])
        offsets = np.tile(rng.normal(0, 1.0, len(spec.sensors)) * sigma, (n, 1))  # chamber matching
        offsets += state.pm_age[lo:hi, None] * drift_vector(spec)[None, :]
        gain = np.ones((n, len(spec.sensors)))
        for fi, idx, s in by_chamber.get(ci, []):
            ft = FAULT_LIBRARY[faults[fi].fault_type]
            rows = idx - lo
            for name, direction in ft.sensors.items():
                j = spec.sensor_index(name)
                offsets[rows, j] += direction * ft.sigmas[name] * sigma[j] * s
            for name, g in ft.noise_gain.items():
                j = spec.sensor_index(name)
                gain[rows, j] += (g - 1.0) * s
        sp = {k: np.nan_to_num(v[lo:hi]) for k, v in state.setpoints.items()}
        yield ci, np.arange(lo, hi), spec, generate(spec, sp, offsets, gain, rng)
