"""Attribution of consumption and of waste (idle, drift, constant) to equipment and shifts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from fabmind.models.base import ModelError
from fabmind.models.energy.baseline import EnergyBaseline
from fabmind.models.energy.data import energy_features, production_load, regularize, shift_of


@dataclass(frozen=True)
class EnergyWaste:
    """Energy used beyond the baseline, with its likely kind and the saving if fixed."""

    meter_id: str
    equipment_id: str
    kind: str  # idle | drift | constant
    start: datetime
    end: datetime
    kwh: float  # excess kWh over the episode = estimated saving over the analysed window
    kwh_per_day: float  # excess rate at the end of the episode (saving per day if it continues)
    by_shift: dict[str, float] = field(default_factory=dict)
    idle_share: float = 0.0  # share of the excess that fell in non-producing intervals
    evidence: str = ""


@dataclass
class EnergyReport:
    """Consumption per equipment x shift (and state), waste items and meter coverage."""

    consumption: pd.DataFrame  # equipment_id, meter_id, shift, state, kwh, intervals
    waste: list[EnergyWaste]
    coverage: dict[str, float]  # meter_id -> share of intervals with a reading
    baselines: dict[str, EnergyBaseline]

    @property
    def total_kwh(self) -> float:
        return float(self.consumption["kwh"].sum())

    @property
    def savings_kwh(self) -> float:
        return float(sum(w.kwh for w in self.waste))


def _episodes(flag: np.ndarray, merge: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(flag)
    if idx.size == 0:
        return []
    eps, a, b = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - b <= merge + 1:
            b = i
        else:
            eps.append((a, b))
            a = b = i
    eps.append((a, b))
    return eps


def _classify(resid: np.ndarray, producing: np.ndarray, interval_h: float) -> tuple[str, float, float, str]:
    pos = np.clip(np.nan_to_num(resid), 0, None)
    total = pos.sum()
    idle_share = float(pos[~producing].sum() / total) if total > 0 else 0.0
    prod_excess = float(np.nanmean(resid[producing])) if producing.any() else 0.0
    idle_excess = float(np.nanmean(resid[~producing])) if (~producing).any() else 0.0
    n = len(resid)
    q = max(n // 4, 1)
    first, last = float(np.nanmean(resid[:q])), float(np.nanmean(resid[-q:]))
    per_day = max(last, 0.0) * 24.0 / interval_h
    if idle_share > 0.8 and prod_excess < 0.25 * max(idle_excess, 1e-9):
        return "idle", idle_share, per_day, (f"excess only while not producing ({idle_share:.0%} of it); "
                                             "the tool does not enter standby")
    if n >= 8 and last > 1.5 * max(first, 0.0) + 1e-9 and last > 0:
        return "drift", idle_share, per_day, (f"excess grows from {first:.2f} to {last:.2f} kWh per interval: "
                                              "a degrading component (e.g. dry pump)")
    return "constant", idle_share, per_day, f"step of {np.nanmean(resid):.2f} kWh per interval in every state"


def analyze_energy(frame: pd.DataFrame, *, freq: str = "15min", reference_days: float | None = None,
                   k_sigma: float = 4.0, min_hours: float = 4.0, min_excess: float = 0.05,
                   load: dict[str, pd.DataFrame] | None = None) -> EnergyReport:
    """Baseline per meter fitted on the first ``reference_days`` (default: first third, >= 1 day)
    (give ``load`` from :func:`production_load`, keyed by equipment id, for a tighter baseline),
    then waste = sustained positive departures (rolling ``min_hours`` mean above ``k_sigma`` robust
    sigmas and above ``min_excess`` of the baseline), attributed to equipment and shifts.

    ``frame``: meter_id, ts, kwh, optional equipment_id and state (as ``Store.energy()`` returns).
    """
    need = {"meter_id", "ts", "kwh"}
    if not need <= set(frame.columns):
        raise ModelError(f"analyze_energy: frame needs columns {sorted(need)}, got {sorted(frame.columns)}")
    if frame.empty:
        raise ModelError("analyze_energy: no energy readings")
    rows, waste, coverage, models = [], [], {}, {}
    step_h = pd.Timedelta(freq).total_seconds() / 3600.0
    win = max(round(min_hours / step_h), 1)
    for meter, sub in frame.groupby("meter_id", sort=True):
        eq = str(sub["equipment_id"].iloc[0]) if "equipment_id" in sub else str(meter)
        grid = regularize(sub, freq)
        coverage[str(meter)] = float(1.0 - grid["gap"].mean())
        hours = grid.index.hour
        measured = ~grid["gap"]
        part = pd.DataFrame({"shift": shift_of(hours), "state": grid["state"].replace("", "unknown"),
                             "kwh": grid["kwh"]})[measured.to_numpy()]
        agg = part.groupby(["shift", "state"], as_index=False).agg(kwh=("kwh", "sum"), intervals=("kwh", "size"))
        agg.insert(0, "meter_id", str(meter))
        agg.insert(0, "equipment_id", eq)
        rows.append(agg)
        X = energy_features(grid, None if load is None else load.get(eq))
        span_days = (grid.index[-1] - grid.index[0]).total_seconds() / 86400.0
        ref_days = reference_days if reference_days is not None else max(span_days / 3.0, 1.0)
        ref = grid.index < grid.index[0] + pd.Timedelta(days=ref_days)
        if (ref & measured.to_numpy()).sum() < EnergyBaseline.min_samples:
            continue  # too little reference data for this meter: consumption only, no waste claims
        model = EnergyBaseline(k_sigma=k_sigma).fit(X[ref], grid["kwh"][ref])
        models[str(meter)] = model
        base = model.score(X)
        resid = grid["kwh"].to_numpy() - base
        smooth = pd.Series(resid).rolling(win, min_periods=max(win // 2, 1)).mean().to_numpy()
        thresh = np.maximum(k_sigma * model.sigma_ / np.sqrt(win), min_excess * np.maximum(base, 1e-9))
        flag = np.nan_to_num(smooth) > thresh
        producing = (grid["state"] == "producing").to_numpy()
        for a, b in _episodes(flag, merge=win):
            a = max(a - win + 1, 0)  # the rolling mean lags the onset by up to one window
            seg = slice(a, b + 1)
            r = resid[seg]
            if np.nansum(r) <= 0 or (b - a + 1) < win:
                continue
            kind, idle_share, per_day, why = _classify(r, producing[seg], step_h)
            shifts = pd.Series(np.clip(np.nan_to_num(r), 0, None)).groupby(shift_of(hours[seg])).sum()
            waste.append(EnergyWaste(
                meter_id=str(meter), equipment_id=eq, kind=kind, start=grid.index[a].to_pydatetime(),
                end=grid.index[b].to_pydatetime(), kwh=float(np.nansum(r)), kwh_per_day=per_day,
                by_shift={k: float(v) for k, v in shifts.items()}, idle_share=idle_share, evidence=why))
    consumption = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["equipment_id", "meter_id", "shift", "state", "kwh", "intervals"])
    waste.sort(key=lambda w: -w.kwh)
    return EnergyReport(consumption=consumption, waste=waste, coverage=coverage, baselines=models)


def energy_report_from_store(store: Any, *, start: datetime | None = None, end: datetime | None = None,
                             meter_id: str | None = None, reference_days: float | None = None) -> EnergyReport:
    """:func:`analyze_energy` on a :class:`fabmind.store.Store`: its energy readings in the window, with
    the production load of each tool computed from the store's runs (the service behind ``fabmind energy``)."""
    frame = store.energy(meter_id=meter_id, start=start, end=end)
    if frame.empty:
        raise ModelError("energy_report_from_store: the store has no energy readings in this window")
    runs = store.runs(start=start, end=end)
    load = production_load(runs) if len(runs) else None
    return analyze_energy(frame, reference_days=reference_days, load=load)
