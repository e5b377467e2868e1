"""Sensor physics: per-step nominal values from the recipe setpoints, sensor lag, noise, drift and faults.

All runs of one chamber are generated in one go as a ``[n_runs, n_samples, n_sensors]`` array
(numpy only, no per-value Python). The nominal value of a sensor in a recipe step is a simple
physical relation of the setpoints (throttle position grows with gas load over pressure, reflected
power with forward power, OES lines with the gas they come from ...), so the sensors are correlated
the way real chamber data is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from fabmind.sim.equipment import DRYETCH, PECVD, TRACK, TypeSpec

Setpoints = Mapping[str, np.ndarray]
Cols = dict[str, list]


def _pecvd(sp: Setpoints, n: int) -> Cols:
    z = np.zeros(n)
    rf, p, sih4 = sp.get("RF_POWER_W", z), sp.get("PRESSURE_MTORR", z), sp.get("SIH4_SCCM", z)
    nh3, n2o, t, gap = sp.get("NH3_SCCM", z), sp.get("N2O_SCCM", z), sp.get("TEMP_C", z), sp.get("SPACING_MM", z)
    n2 = 2000.0
    flow = (sih4 + nh3 + n2o + n2) / 1000.0
    purge = 8.0
    return {
        "CHAMBER_PRESS_MTORR": [30.0, p, p, 900.0],
        "FORELINE_PRESS_TORR": [0.05, 0.05 + 0.08 * flow, 0.05 + 0.08 * flow, 0.05 + 0.08 * purge],
        "THROTTLE_POS_PCT": [100.0, 15 + 6 * flow / (p / 1000), 15 + 6 * flow / (p / 1000), 15 + 6 * purge / 0.9],
        "PUMP_CURRENT_A": [18.0, 18 + 0.8 * flow, 18 + 0.8 * flow, 18 + 0.8 * purge],
        "PUMP_TEMP_C": [62.0, 62 + 0.4 * flow, 62 + 0.4 * flow, 62 + 0.4 * purge],
        "RF_FWD_W": [0.0, 0.0, rf, 0.0],
        "RF_REFL_W": [0.0, 0.0, 0.008 * rf + 2, 0.0],
        "RF_VDC_V": [0.0, 0.0, 0.12 * rf - 0.03 * p + 60, 0.0],
        "MATCH_C1_POS_PCT": [50.0, 50.0, 35 + 0.008 * p + 0.002 * rf, 50.0],
        "MATCH_C2_POS_PCT": [50.0, 50.0, 40 + 0.01 * rf - 0.004 * p, 50.0],
        "SIH4_FLOW_SCCM": [0.0, sih4, sih4, 0.0],
        "NH3_FLOW_SCCM": [0.0, nh3, nh3, 0.0],
        "N2O_FLOW_SCCM": [0.0, n2o, n2o, 0.0],
        "N2_FLOW_SCCM": [0.0, n2, n2, purge * 1000],
        "HEATER_Z1_TEMP_C": [t, t, t + 0.002 * rf, t],
        "HEATER_Z2_TEMP_C": [t - 2, t - 2, t - 2 + 0.002 * rf, t - 2],
        "HEATER_POWER_PCT": [30 + 0.12 * (t - 300)] * 2 + [30 + 0.12 * (t - 300) - 0.002 * rf, 30 + 0.12 * (t - 300)],
        "WALL_TEMP_C": [85.0, 85.0, 85 + 0.003 * rf, 85.0],
        "LID_TEMP_C": [75.0, 75.0, 75 + 0.004 * rf, 75.0],
        "SPACING_MM": [30.0, gap, gap, 30.0],
        "CHILLER_FLOW_LPM": [12.0] * 4,
        "CHILLER_TEMP_C": [24.0, 24.0, 24 + 0.001 * rf, 24.0],
        "OES_SIH_INT": [0.0, 0.0, 18 * sih4 * np.sqrt(np.maximum(rf, 0) / 1500), 0.0],
        "OES_N2_INT": [0.0, 0.0, 0.4 * nh3 + 0.3 * n2 + 0.2 * n2o, 0.0],
        "OES_H_INT": [0.0, 0.0, 3 * sih4 + 0.3 * nh3, 0.0],
    }


def _dryetch(sp: Setpoints, n: int) -> Cols:
    z = np.zeros(n)
    src, bias, p = sp.get("SRC_POWER_W", z), sp.get("BIAS_POWER_W", z), sp.get("PRESSURE_MTORR", z)
    cl2, sf6, o2 = sp.get("CL2_SCCM", z), sp.get("SF6_SCCM", z), sp.get("O2_SCCM", z)
    tc, he = sp.get("CHUCK_TEMP_C", z), sp.get("HE_PRESS_TORR", z)
    ar, ar_purge = 100.0, 1000.0
    flow = (cl2 + sf6 + o2 + ar) / 1000.0
    thr = 10 + 1000 * flow / np.maximum(p, 1.0)
    thr_oe = 10 + 1000 * flow / np.maximum(0.85 * p, 1.0)
    return {
        "CHAMBER_PRESS_MTORR": [p, p, 0.85 * p, 150.0],
        "FORELINE_PRESS_TORR": [0.03 + 0.3 * flow] * 3 + [0.03 + 0.3 * ar_purge / 1000],
        "THROTTLE_POS_PCT": [thr, thr, thr_oe, 10 + 1000 * (ar_purge / 1000) / 150],
        "PUMP_CURRENT_A": [12 + 3 * flow] * 3 + [12 + 3 * ar_purge / 1000],
        "PUMP_TEMP_C": [55 + 2 * flow] * 3 + [55 + 2 * ar_purge / 1000],
        "RF_FWD_W": [0.0, src, 0.7 * src, 0.0],
        "RF_REFL_W": [0.0, 0.006 * src + 3, 0.0042 * src + 3, 0.0],
        "BIAS_FWD_W": [0.0, bias, 0.5 * bias, 0.0],
        "BIAS_REFL_W": [0.0, 0.005 * bias + 1, 0.0025 * bias + 1, 0.0],
        "RF_VDC_V": [0.0, 0.3 * bias + 20, 0.15 * bias + 20, 0.0],
        "MATCH_C1_POS_PCT": [50.0, 30 + 0.25 * p + 0.004 * src, 30 + 0.2125 * p + 0.0028 * src, 50.0],
        "MATCH_C2_POS_PCT": [50.0, 45 + 0.005 * src - 0.1 * p, 45 + 0.0035 * src - 0.085 * p, 50.0],
        "SF6_FLOW_SCCM": [sf6, sf6, sf6, 0.0],
        "CL2_FLOW_SCCM": [cl2, cl2, cl2, 0.0],
        "O2_FLOW_SCCM": [o2, o2, o2, 0.0],
        "AR_FLOW_SCCM": [ar, ar, ar, ar_purge],
        "HE_BACKSIDE_PRESS_TORR": [0.5, he, he, 0.5],
        "HE_BACKSIDE_FLOW_SCCM": [0.5, 2 + 0.3 * he, 2 + 0.3 * he, 0.5],
        "CHUCK_TEMP_C": [tc, tc + 0.004 * bias, tc + 0.002 * bias, tc],
        "CHUCK_TEMP_EDGE_C": [tc + 1.5, tc + 1.5 + 0.004 * bias, tc + 1.5 + 0.002 * bias, tc + 1.5],
        "ESC_VOLTAGE_V": [1500.0, 1500.0, 1500.0, 0.0],
        "ESC_CURRENT_UA": [2.0, 15.0, 15.0, 2.0],
        "WALL_TEMP_C": [70.0, 70 + 0.002 * src, 70 + 0.0014 * src, 70.0],
        "LID_TEMP_C": [80.0, 80 + 0.004 * src, 80 + 0.0028 * src, 80.0],
        "CHILLER_FLOW_LPM": [10.0] * 4,
        "CHILLER_TEMP_C": [tc - 5] * 4,
        "OES_F_INT": [0.0, 10 * sf6 * src / 2000 + 300, 14 * sf6 * src / 2000 + 300, 0.0],
        "OES_N2_INT": [0.0, 200.0, 200.0, 0.0],
        "OES_H_INT": [0.0, 150.0, 150.0, 0.0],
        "OES_ENDPOINT_INT": [0.0, 3000 + 2 * cl2 + 2 * sf6, 1200.0, 0.0],
    }


def _track(sp: Setpoints, n: int) -> Cols:
    z = np.zeros(n)
    rpm, disp, sb, hmds = sp.get("SPIN_RPM", z), sp.get("DISPENSE_ML", z), sp.get("SOFTBAKE_C", z), sp.get("HMDS_SCCM", z)
    hp = 20 + 0.1 * (sb - 100)
    return {
        "HMDS_FLOW_SCCM": [hmds, 0.0, 0.0, 0.0],
        "SPIN_SPEED_RPM": [0.0, rpm, 0.0, 0.0],
        "SPIN_MOTOR_CURRENT_A": [0.2, 0.5 + 0.0015 * rpm, 0.2, 0.2],
        "SPIN_VIBRATION_MM_S": [0.1, 0.3 + 0.0002 * rpm, 0.1, 0.1],
        "VACUUM_CHUCK_KPA": [101.0, 20.0, 101.0, 101.0],
        "PR_DISPENSE_PRESS_KPA": [0.0, 80 * disp, 0.0, 0.0],
        "PR_FLOW_ML_MIN": [0.0, 30 * disp, 0.0, 0.0],
        "PR_TEMP_C": [23.0] * 4,
        "DISPENSE_PUMP_CURRENT_A": [0.3, 0.8 + 0.2 * disp, 0.3, 0.3],
        "CUP_EXHAUST_PA": [250.0] * 4,
        "CUP_HUMIDITY_PCT": [45.0] * 4,
        "CUP_TEMP_C": [23.0] * 4,
        "HOTPLATE_TEMP_C": [sb, sb, sb - 2.5, sb],
        "HOTPLATE_EDGE_C": [sb - 1, sb - 1, sb - 3.5, sb - 1],
        "HOTPLATE_POWER_PCT": [hp, hp, hp + 30, hp],
        "CHILL_PLATE_TEMP_C": [23.0, 23.0, 23.0, 24.5],
        "N2_PURGE_FLOW_SLM": [10.0] * 4,
    }


NOMINAL: dict[str, Callable[[Setpoints, int], Cols]] = {
    PECVD.type_id: _pecvd, DRYETCH.type_id: _dryetch, TRACK.type_id: _track,
}

#: Slow drift per day since the last PM (sensor units/day): chamber walls coat, parts wear. PM resets it.
DRIFT_PER_DAY: dict[str, dict[str, float]] = {
    PECVD.type_id: {"RF_REFL_W": 0.25, "MATCH_C1_POS_PCT": -0.06, "THROTTLE_POS_PCT": 0.08, "WALL_TEMP_C": 0.03,
                    "PUMP_CURRENT_A": 0.02, "OES_SIH_INT": -8.0},
    DRYETCH.type_id: {"RF_REFL_W": 0.3, "THROTTLE_POS_PCT": 0.06, "OES_ENDPOINT_INT": -6.0, "HE_BACKSIDE_FLOW_SCCM": 0.01,
                      "PUMP_CURRENT_A": 0.02, "LID_TEMP_C": 0.04},
    TRACK.type_id: {"CUP_EXHAUST_PA": -0.8, "HOTPLATE_POWER_PCT": 0.05, "SPIN_VIBRATION_MM_S": 0.003},
}


def step_index(spec: TypeSpec) -> np.ndarray:
    """Recipe step of every sample (uint8, read-only, shared by all runs of the type)."""
    idx = np.repeat(np.arange(len(spec.steps), dtype=np.uint8), spec.step_samples)
    idx.setflags(write=False)
    return idx


def nominal(spec: TypeSpec, setpoints: Setpoints, n: int) -> np.ndarray:
    """Nominal value of every sensor in every recipe step: ``[n_runs, n_steps, n_sensors]``."""
    cols = NOMINAL[spec.type_id](setpoints, n)
    out = np.empty((n, len(spec.steps), len(spec.sensors)))
    for j, s in enumerate(spec.sensors):
        for k, v in enumerate(cols[s.name]):
            out[:, k, j] = v
    return out


def active_mask(spec: TypeSpec) -> np.ndarray:
    """``[n_samples, n_sensors]``: 1 where faults and drifts show on the sensor, else 0."""
    idx = step_index(spec)
    mask = np.ones((len(idx), len(spec.sensors)))
    for j, s in enumerate(spec.sensors):
        if s.active:
            on = np.array([spec.steps[k] in s.active for k in idx])
            mask[:, j] = on
    return mask


def drift_vector(spec: TypeSpec) -> np.ndarray:
    d = np.zeros(len(spec.sensors))
    for name, v in DRIFT_PER_DAY[spec.type_id].items():
        d[spec.sensor_index(name)] = v
    return d


def generate(spec: TypeSpec, setpoints: Setpoints, offsets: np.ndarray, noise_gain: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Traces of ``n`` runs of one chamber as float32 ``[n, n_samples, n_sensors]``.

    ``offsets`` ``[n, n_sensors]`` (sensor units) holds chamber offset + drift + fault shifts, applied in
    each sensor's active steps; ``noise_gain`` ``[n, n_sensors]`` multiplies the noise sigma.
    """
    n = offsets.shape[0]
    idx = step_index(spec)
    target = nominal(spec, setpoints, n)[:, idx, :]  # [n, samples, sensors]
    alpha = np.array([s.alpha for s in spec.sensors])
    y = np.empty_like(target)
    y[:, 0] = target[:, 0]
    for i in range(1, target.shape[1]):  # first-order lag, vectorised over runs and sensors
        y[:, i] = y[:, i - 1] + alpha * (target[:, i] - y[:, i - 1])
    sigma = np.array([s.noise for s in spec.sensors])
    on = np.where(np.abs(target) > 1e-9, 1.0, 0.1)  # a generator that is off reads almost nothing
    noise = rng.standard_normal(target.shape) * sigma * on * noise_gain[:, None, :]
    y += offsets[:, None, :] * active_mask(spec)[None] + noise
    low = np.array([s.low for s in spec.sensors])
    high = np.array([s.high for s in spec.sensors])
    np.clip(y, low, high, out=y)
    return y.astype(np.float32)
