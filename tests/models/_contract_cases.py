"""The models every shared contract check runs on (river's ``yield_checks`` idea).

To put a new small model through the suite, add one :class:`ContractCase` to ``CASES``: a factory
that returns an unfitted model with a fixed seed, and a small dataset builder returning
``(X_train, y_train_or_None, X_eval)`` as DataFrames/arrays. Factories import lazily so a family
that is not installed yet only skips its own cases.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ContractCase:
    id: str
    factory: str  # "module:callable" returning an unfitted model
    data: Callable[[int], tuple[pd.DataFrame, Any, pd.DataFrame]]
    kwargs: dict[str, Any] | None = None

    def make(self):
        module, name = self.factory.split(":")
        return getattr(importlib.import_module(module), name)(**(self.kwargs or {}))


def correlated_sensors(seed: int = 0, n: int = 300, p: int = 6) -> tuple[pd.DataFrame, None, pd.DataFrame]:
    """Normal operation of correlated sensors (train) and a batch with a fault on the last sensor (eval)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(2, p))
    cols = [f"S{i}" for i in range(p)]
    X = pd.DataFrame(rng.normal(size=(n, 2)) @ mix + 0.2 * rng.normal(size=(n, p)), columns=cols)
    ev = pd.DataFrame(rng.normal(size=(40, 2)) @ mix + 0.2 * rng.normal(size=(40, p)), columns=cols)
    ev.iloc[20:, -1] += 4.0
    return X, None, ev


def gross_excursion(seed: int = 0) -> tuple[pd.DataFrame, None, pd.DataFrame]:
    """As :func:`correlated_sensors`, but the fault moves every sensor (S5 most): what an isolation
    forest, which sees marginal outliers only, can be asked to find."""
    X, y, ev = correlated_sensors(seed)
    ev.iloc[20:] += 5 * X.std().to_numpy()
    ev.iloc[20:, -1] += 10 * X.iloc[:, -1].std()
    return X, y, ev


def _ensemble_kwargs() -> dict[str, Any]:
    from fabmind.models.anomaly import MSPC, EWMAMonitor

    return {"detectors": [("mspc", MSPC(n_components=2)), ("ewma", EWMAMonitor())], "rule": "any"}


CASES: list[ContractCase] = [
    ContractCase("mspc", "fabmind.models.anomaly:MSPC", correlated_sensors, {"n_components": 2}),
    ContractCase("mspc-dynamic", "fabmind.models.anomaly:MSPC", correlated_sensors,
                 {"n_components": 0.9, "lags": 2, "smooth": 3, "limits": "cv"}),
    ContractCase("iforest", "fabmind.models.anomaly:IForestDetector", gross_excursion,
                 {"n_estimators": 50, "random_state": 3}),
    ContractCase("ewma", "fabmind.models.anomaly:EWMAMonitor", correlated_sensors),
    ContractCase("cusum", "fabmind.models.anomaly:CUSUMMonitor", correlated_sensors),
    ContractCase("ensemble", "fabmind.models.anomaly.ensemble:AnomalyEnsemble", correlated_sensors,
                 _ensemble_kwargs()),
    ContractCase("mspc-adjusted", "fabmind.models.anomaly:AdjustedMSPC", lambda seed=0: with_setpoint(seed),
                 {"confidence": 0.99}),
]


def with_setpoint(seed: int = 0) -> tuple[pd.DataFrame, None, pd.DataFrame]:
    """:func:`correlated_sensors` plus a recipe setpoint ``SP.P`` that S0 follows (context column)."""
    X, y, ev = correlated_sensors(seed)
    rng = np.random.default_rng(seed + 1)
    sp, sp_ev = rng.normal(100, 5, len(X)), rng.normal(100, 5, len(ev))
    X["S0"] += sp - 100
    ev["S0"] += sp_ev - 100
    return X.assign(**{"SP.P": sp}), y, ev.assign(**{"SP.P": sp_ev})


# Anomaly detectors additionally get a metric floor: they must flag the faulty half of the eval batch.
ANOMALY_IDS = {"mspc", "mspc-dynamic", "iforest", "ewma", "cusum", "ensemble", "mspc-adjusted"}


# --- defect-map pattern classifier (added by the defect-maps room) ---------------------------------
def defect_maps(seed: int = 0) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """Spatial features of simulated defect maps of every pattern class, their labels, and held-out maps."""
    X, y, ev = _defect_maps_cached(seed)
    return X.copy(), y.copy(), ev.copy()


def _defect_maps_cached(seed: int, _cache: dict = {}) -> tuple[pd.DataFrame, Any, pd.DataFrame]:  # noqa: B006
    if seed not in _cache:
        from fabmind.models.defect_map_features import map_features
        from fabmind.sim.defect_maps import simulate_maps

        train, ev = simulate_maps(270, seed=seed), simulate_maps(45, seed=seed + 1)
        _cache[seed] = (map_features(train), np.array([m.pattern for m in train]), map_features(ev))
    return _cache[seed]


CASES.append(ContractCase("defect-pattern", "fabmind.models.defect_maps:DefectPatternClassifier", defect_maps,
                          {"n_estimators": 30}))


# --- maintenance, quality and energy families (added by the maintenance/quality/energy room) -------
def _tabular(seed: int = 0, n: int = 240, p: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = [f"S{i}" for i in range(p)]
    return (pd.DataFrame(rng.normal(size=(n, p)), columns=cols),
            pd.DataFrame(rng.normal(size=(40, p)), columns=cols), rng.normal(size=n))


def regression_target(seed: int = 0) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """Non-negative target (RUL cycles, kWh, thickness) driven by two inputs."""
    X, ev, noise = _tabular(seed)
    return X, np.abs(50 + 10 * X["S0"] - 5 * X["S1"] + noise).to_numpy(), ev


def binary_target(seed: int = 0) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """Fail (1) / pass (0) driven by S0."""
    X, ev, noise = _tabular(seed)
    return X, (X["S0"] + 0.5 * noise > 0.8).astype(int).to_numpy(), ev


def defect_classes(seed: int = 0) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    X, ev, _ = _tabular(seed)
    return X, np.where(X["S0"] > 0.5, "scratch", np.where(X["S1"] > 0, "stain", "bump")), ev


CASES += [
    ContractCase("rul", "fabmind.models.maintenance:RULModel", regression_target,
                 {"n_estimators": 30, "mlp_seeds": 1}),
    ContractCase("failure-risk", "fabmind.models.maintenance:FailureRiskModel", binary_target, {"n_estimators": 30}),
    ContractCase("defect-classifier", "fabmind.models.quality:DefectClassifier", defect_classes, {"n_estimators": 30}),
    ContractCase("yield-pass-fail", "fabmind.models.quality:YieldPassFailModel", binary_target, {"n_estimators": 30}),
    ContractCase("virtual-metrology", "fabmind.models.quality:VirtualMetrologyModel", regression_target,
                 {"n_estimators": 30}),
    ContractCase("energy-baseline", "fabmind.models.energy:EnergyBaseline", regression_target, {"n_estimators": 30}),
    ContractCase("energy-forecaster", "fabmind.models.energy:EnergyForecaster", regression_target,
                 {"n_estimators": 30, "seeds": 1, "last_value": None}),
]
