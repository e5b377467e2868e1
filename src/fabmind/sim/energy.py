"""Energy: one electric meter per tool, 15-minute kWh readings from load, idle, standby and downtime.

Power of a tool = mainframe base load + per chamber (run load while processing, idle load when
waiting, standby load after an hour without work, ~1 kW while down) + extra load of faults
(``FaultType.energy_kw``, e.g. a degrading dry pump) + injected energy waste
(:data:`ENERGY_WASTE`, with a known source), with 2 % meter noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabmind.sim.equipment import TYPES
from fabmind.sim.layout import Layout

BIN_S = 900.0
STANDBY_AFTER_BINS = 4
DOWN_KW = 1.0


@dataclass(frozen=True)
class EnergyWasteType:
    waste_type: str
    source: str  # what wastes the energy, in words
    subsystem: str
    kind: str  # "idle": only while idle (standby not entered); "constant": all the time
    extra_kw: float  # at severity 1 ("constant": per tool; "idle": ignored, the idle-standby gap per chamber)
    fix: str


ENERGY_WASTE: dict[str, EnergyWasteType] = {w.waste_type: w for w in (
    EnergyWasteType("idle_no_standby", "tool does not enter standby when idle (idle timer disabled after a software update)",
                    "controls", "idle", 0.0, "re-enable the idle-standby timer (60 min) in the tool controller"),
    EnergyWasteType("exhaust_damper_stuck_open", "process exhaust damper stuck fully open, exhaust fan at full load",
                    "exhaust", "constant", 4.0, "free / replace the damper actuator and re-balance the exhaust"),
    EnergyWasteType("chiller_overcooling", "chiller set point drifted 6 K low, compressor runs continuously",
                    "cooling", "constant", 2.5, "reset the chiller set point and check its temperature sensor"),
)}


@dataclass
class EnergyPlan:
    """Energy waste in force: (waste_type, equipment_id, start_s, end_s or None, severity)."""

    items: list[tuple[str, str, float, float | None, float]]


def _busy_seconds(start: np.ndarray, end: np.ndarray, n_bins: int) -> np.ndarray:
    b0 = np.minimum((start // BIN_S).astype(int), n_bins - 1)
    b1 = np.minimum((end // BIN_S).astype(int), n_bins - 1)
    same = b0 == b1
    w0 = np.where(same, end - start, (b1 * BIN_S) - start)
    out = np.bincount(b0, weights=w0, minlength=n_bins)
    out += np.bincount(b1[~same], weights=(end - b1 * BIN_S)[~same], minlength=n_bins)
    return np.clip(out, 0, BIN_S)


def _window(n_bins: int, a: float, b: float | None) -> np.ndarray:
    """Fraction of each bin inside [a, b)."""
    edges = np.arange(n_bins) * BIN_S
    hi = np.inf if b is None else b
    return np.clip((np.minimum(edges + BIN_S, hi) - np.maximum(edges, a)) / BIN_S, 0, 1)


def tool_energy(layout: Layout, run_chamber: np.ndarray, run_start: np.ndarray, run_end: np.ndarray,
                down: dict[str, list[tuple[float, float]]], fault_kw: dict[str, np.ndarray], plan: EnergyPlan,
                horizon_s: float, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, list[str]]]:
    """kWh per 15-min bin and state per bin, for every tool's meter: ``meter_id -> (kwh, states)``.

    ``fault_kw`` maps equipment id to extra kW per bin from faults.
    """
    n_bins = int(horizon_s // BIN_S)
    ch_index = {c: i for i, c in enumerate(layout.chamber_ids)}
    out = {}
    for tool in layout.tools:
        spec = TYPES[tool.type_id]
        busy = np.zeros((len(tool.chambers), n_bins))
        downf = np.zeros_like(busy)
        for k, c in enumerate(tool.chambers):
            m = run_chamber == ch_index[c]
            busy[k] = _busy_seconds(run_start[m], run_end[m], n_bins) / BIN_S
            for a, b in down.get(c, []):
                if b > 0 and a < horizon_s:
                    downf[k] += _window(n_bins, a, b)
        downf = np.clip(downf, 0, 1)
        busy = np.minimum(busy, 1 - downf)
        tool_busy = busy.sum(0)
        recent = np.convolve(tool_busy, np.ones(STANDBY_AFTER_BINS), mode="full")[:n_bins]
        standby = recent <= 1e-9
        no_standby = np.zeros(n_bins)
        extra = fault_kw.get(tool.equipment_id, np.zeros(n_bins)).copy()
        for waste_type, eq, a, b, sev in plan.items:
            if eq != tool.equipment_id:
                continue
            w = ENERGY_WASTE[waste_type]
            frac = _window(n_bins, a, b)
            if w.kind == "idle":
                no_standby = np.maximum(no_standby, frac * sev)
            else:
                extra += w.extra_kw * sev * frac
        wait_kw = np.where(standby, spec.standby_kw + (spec.idle_kw - spec.standby_kw) * no_standby, spec.idle_kw)
        idle = 1 - busy - downf
        kw = spec.base_kw + (busy * spec.run_kw + idle * wait_kw + downf * DOWN_KW).sum(0) + extra
        kwh = np.round(kw * BIN_S / 3600 * (1 + rng.normal(0, 0.02, n_bins)), 4)
        all_down = downf.min(0) >= 0.999
        states = np.where(tool_busy > 0, "producing", np.where(all_down, "down", np.where(standby, "standby", "idle")))
        out[tool.meter_id] = (np.maximum(kwh, 0.0), [str(s) for s in states])
    return out
