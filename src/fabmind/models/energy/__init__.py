"""Energy: per-meter baseline, anomalies against it, and attribution of consumption and waste.

* :func:`regularize` puts a meter's readings on a regular grid (default 15 min). **Gaps** (missing
  intervals) stay missing: no kWh is invented. Duplicated timestamps keep the last reading.
  Gap rows carry ``gap=True``; they are skipped when fitting, never flagged as anomalies and
  not counted in totals (reports give each meter's ``coverage``).
* :func:`energy_features` builds the baseline's inputs: calendar (hour, weekday, weekend, shift),
  tool state shares (producing / idle / standby / down) or any production-load columns (runs per
  interval, recipe mix) and, for forecasting, lagged consumption (``lags``; NaN across gaps).
* :class:`EnergyBaseline` — LightGBM regression (robust Huber loss by default, so short waste
  episodes in the training window pull the baseline little); ``anomalies`` returns episodes where
  consumption departs from the baseline by more than ``k_sigma`` robust sigmas.
* :func:`analyze_energy` runs the whole chain on a store-style frame (meter_id, equipment_id, ts,
  kwh, state) and returns an :class:`EnergyReport`: consumption per equipment and shift, and
  :class:`EnergyWaste` items classed as ``idle`` (excess only while not producing: standby not
  entered), ``drift`` (excess that keeps growing: a degrading component such as a dry pump) or
  ``constant`` (a step in base load: damper stuck open, chiller over-cooling), each with its kWh
  and the saving if fixed.
* :func:`history_features` and :class:`EnergyForecaster` (``forecast.py``): next-interval kWh from the
  meter's past (and, for nowcasting, its other channels); :func:`power_triangle_kwh` and
  :func:`pf_matched_history` (``electrical.py``): what reactive energy and power factor say about kWh.

Modules: ``data.py`` (grid, features, production load), ``baseline.py``, ``waste.py``, ``forecast.py``,
``electrical.py``; everything public is importable from ``fabmind.models.energy``.

Example::

    >>> import numpy as np, pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=4 * 24 * 14, freq="15min", tz="UTC")
    >>> busy = ((ts.hour >= 6) & (ts.hour < 22)).astype(float)
    >>> kwh = 5 + 10 * busy + np.random.default_rng(0).normal(0, 0.2, len(ts))
    >>> kwh[-200:] += 2.0                                   # a damper sticks open
    >>> frame = pd.DataFrame({"meter_id": "EM-ETCH-01", "equipment_id": "ETCH-01", "ts": ts, "kwh": kwh,
    ...                       "state": np.where(busy > 0, "producing", "idle")})
    >>> report = analyze_energy(frame, reference_days=7)
    >>> [(w.equipment_id, w.kind, round(w.kwh, -1)) for w in report.waste]
    [('ETCH-01', 'constant', 400.0)]
"""

from fabmind.models.energy.baseline import EnergyAnomaly, EnergyBaseline
from fabmind.models.energy.data import SHIFTS, STATES, energy_features, production_load, regularize, shift_of
from fabmind.models.energy.electrical import pf_matched_history, power_triangle_kwh
from fabmind.models.energy.forecast import EnergyForecaster, history_features
from fabmind.models.energy.waste import EnergyReport, EnergyWaste, analyze_energy, energy_report_from_store

__all__ = [
    "SHIFTS", "STATES", "EnergyAnomaly", "EnergyBaseline", "EnergyForecaster", "EnergyReport", "EnergyWaste",
    "analyze_energy", "energy_features", "energy_report_from_store", "history_features", "pf_matched_history",
    "power_triangle_kwh", "production_load", "regularize", "shift_of",
]
