"""Process optimisation: a surrogate of the recipe's response, searched for better setpoints.

:class:`ProcessSurrogate` learns ``recipe parameters (+ chamber state) -> output`` (yield, CD,
thickness) from past runs, with an uncertainty: by default a response surface with Bayesian
ridge (the fab's classic DOE/RSM model: linear + squared terms, or the full quadratic with
interactions), or a Gaussian process (smooth, honest about where it has no data).
:func:`recommend_setpoints` searches it with optuna inside the recipe's limits, the data's range
and the engineer's constraints and returns a typed :class:`Recommendation`.

Example::

    >>> surrogate = ProcessSurrogate().fit(X[["rf_w", "pressure_mtorr"]], y)  # doctest: +SKIP
    >>> rec = recommend_setpoints(surrogate, recipe, constraints=[Constraint("rf_w", high=900)])  # doctest: +SKIP
    >>> rec.setpoints, rec.gain, rec.gain_std  # doctest: +SKIP
    ({'rf_w': 874.2, 'pressure_mtorr': 41.0}, 2.31, 0.42)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fabmind.domain import Recipe
from fabmind.models.base import Explanation, FeatureContribution, ModelError, SmallModel

__all__ = [
    "Constraint",
    "InfeasibleConstraints",
    "ProcessSurrogate",
    "RecipeLimitsError",
    "Recommendation",
    "recipe_limits",
    "recommend_setpoints",
]


class RecipeLimitsError(ModelError):
    """The recipe does not give limits for a parameter the search would have to move."""


class InfeasibleConstraints(ModelError):
    """The constraints cannot all hold inside the recipe's limits; the message names the culprit."""


@dataclass(frozen=True)
class Constraint:
    """Keep a recipe parameter, or a predicted output (a surrogate in ``outputs=``), within [low, high]."""

    name: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise InfeasibleConstraints(f"constraint on {self.name!r} gives neither a low nor a high bound")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InfeasibleConstraints(
                f"constraint on {self.name!r} cannot hold: low {self.low} > high {self.high}"
            )


@dataclass(frozen=True)
class Recommendation:
    """Recommended setpoints, what the surrogate expects from them, and why."""

    recipe_id: str
    target: str  # the optimised output, e.g. 'yield_pct'
    objective: str  # 'maximize', 'minimize' or 'target=<value>'
    setpoints: dict[str, float]
    default_setpoints: dict[str, float]
    predicted: float
    predicted_std: float
    predicted_default: float
    gain: float  # predicted(setpoints) - predicted(default), in the target's unit
    gain_std: float  # its standard deviation (joint posterior: shared model error cancels)
    gain_probability: float  # P(the recommendation beats the default | surrogate)
    outputs: dict[str, float]  # predicted constrained outputs at the recommendation
    effects: tuple[FeatureContribution, ...]  # per parameter: change of the target moving only it
    constraints: tuple[Constraint, ...]
    context: dict[str, float] = field(default_factory=dict)  # chamber state held fixed
    n_trials: int = 0
    model_version: str = ""


class ProcessSurrogate(SmallModel):
    """Recipe parameters (+ chamber state) -> one process output, with predictive uncertainty.

    Parameters
    ----------
    kind: 'diagonal' (default: response surface of linear and squared terms with Bayesian ridge:
        a bowl per parameter, robust with few independent experiments and many parameters),
        'quadratic' (the full second-order DOE/RSM model, interactions included: needs more
        experiments) or 'gp' (Gaussian process, anisotropic RBF + noise; for responses that are
        not near-quadratic, slower).
    max_train: at most this many runs are used to fit the GP (a seeded subsample; GPs are cubic).
    seed: random seed.
    """

    family = "process"
    name = "surrogate"
    min_samples = 5

    def __init__(self, kind: str = "diagonal", max_train: int = 400, seed: int = 0):
        self.kind = kind
        self.max_train = max_train
        self.seed = seed

    def _fit(self, X: pd.DataFrame, y: Any, **_: Any) -> None:
        if y is None:
            raise ModelError("ProcessSurrogate.fit needs the measured output y (yield, CD, thickness ...)")
        yv = np.asarray(y, dtype=float).ravel()
        if len(yv) != len(X):
            raise ModelError(f"ProcessSurrogate.fit: {len(X)} rows of parameters but {len(yv)} outputs")
        if not np.isfinite(yv).all():
            raise ModelError("ProcessSurrogate.fit: the output y has NaN/inf values; drop those runs first")
        x = X.to_numpy(dtype=float)
        self.x_mean_, self.x_scale_ = x.mean(axis=0), x.std(axis=0)
        self.x_scale_[self.x_scale_ == 0] = 1.0
        self.y_mean_, self.y_scale_ = float(yv.mean()), float(yv.std() or 1.0)
        xs, ys = (x - self.x_mean_) / self.x_scale_, (yv - self.y_mean_) / self.y_scale_
        if self.kind == "gp":
            from sklearn.gaussian_process import GaussianProcessRegressor
            from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

            rng = np.random.default_rng(self.seed)
            if len(xs) > self.max_train:
                keep = rng.choice(len(xs), self.max_train, replace=False)
                xs, ys = xs[keep], ys[keep]
            d = xs.shape[1]
            kernel = ConstantKernel(1.0, (1e-2, 1e2)) * RBF(np.ones(d), (5e-2, 1e2)) + WhiteKernel(
                0.1, (1e-5, 1.0)
            )
            self.model_ = GaussianProcessRegressor(
                kernel, normalize_y=False, n_restarts_optimizer=0, random_state=self.seed
            ).fit(xs, ys)
        elif self.kind in ("quadratic", "diagonal"):
            from sklearn.linear_model import BayesianRidge

            self.model_ = BayesianRidge().fit(self._phi(xs), ys)
        else:
            raise ModelError(
                f"ProcessSurrogate: unknown kind {self.kind!r}; use 'quadratic', 'diagonal' or 'gp'"
            )
        # the region the data cover: the search stays inside it (a surrogate is not to be trusted outside)
        self.support_ = np.quantile(x, [0.01, 0.99], axis=0)
        resid = yv - self._mean_cov(X.to_numpy(dtype=float), cov=False)[0]
        self.train_rmse_ = float(np.sqrt(np.mean(resid**2)))

    def _phi(self, xs: np.ndarray) -> np.ndarray:
        """Response-surface terms of standardised inputs: linear + squares (+ interactions if 'quadratic')."""
        if self.kind == "diagonal":
            return np.hstack([xs, xs**2])
        i, j = np.triu_indices(xs.shape[1])
        return np.hstack([xs, xs[:, i] * xs[:, j]])

    def _mean_cov(self, x: np.ndarray, cov: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        xs = (x - self.x_mean_) / self.x_scale_
        if self.kind == "gp":
            if cov:
                m, c = self.model_.predict(xs, return_cov=True)
            else:
                m, c = self.model_.predict(xs), None
        else:
            phi = self._phi(xs)
            m = self.model_.predict(phi)
            c = phi @ self.model_.sigma_ @ phi.T if cov else None
        m = m * self.y_scale_ + self.y_mean_
        return m, (None if c is None else c * self.y_scale_**2)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self._mean_cov(X.to_numpy(dtype=float), cov=False)[0]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted output per row (the posterior mean)."""
        return self.score(X)

    def predict_std(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the model's estimate per row (no measurement noise)."""
        df = self._validate(X, fitting=False)
        xs = (df.to_numpy(dtype=float) - self.x_mean_) / self.x_scale_
        if self.kind == "gp":
            m, s = self.model_.predict(xs, return_std=True)
            noise = float(self.model_.kernel_.k2.noise_level)  # predict's std includes the white noise
            s = np.sqrt(np.maximum(s**2 - noise, 0.0))
        else:
            phi = self._phi(xs)
            m = self.model_.predict(phi)
            s = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", phi, self.model_.sigma_, phi), 0.0))
        return m * self.y_scale_ + self.y_mean_, s * self.y_scale_

    def predict_cov(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and joint covariance of the model's estimates (for gains between rows)."""
        df = self._validate(X, fitting=False)
        m, c = self._mean_cov(df.to_numpy(dtype=float), cov=True)
        if self.kind == "gp":
            c = c - np.eye(len(m)) * float(self.model_.kernel_.k2.noise_level) * self.y_scale_**2
        return m, c

    def explain(self, X: Any) -> list[Explanation]:
        """Per row, each feature's effect: prediction minus prediction with that feature at its training mean."""
        df = self._validate(X, fitting=False)
        x = df.to_numpy(dtype=float)
        out = []
        base = self._score(df)
        for r in range(len(x)):
            probe = np.repeat(x[r : r + 1], x.shape[1], axis=0)
            probe[np.arange(x.shape[1]), np.arange(x.shape[1])] = self.x_mean_
            eff = base[r] - self._mean_cov(probe, cov=False)[0]
            contribs = [
                FeatureContribution(
                    feature=str(f),
                    contribution=float(e),
                    value=float(v),
                    expected=float(mu),
                    deviation_sigma=float((v - mu) / s),
                )
                for f, e, v, mu, s in zip(self.feature_names_in_, eff, x[r], self.x_mean_, self.x_scale_)
            ]
            contribs.sort(key=lambda c: -abs(c.contribution))
            out.append(Explanation(row=r, output=float(base[r]), contributions=tuple(contribs)))
        return out


def recipe_limits(recipe: Recipe | Mapping[str, Any]) -> dict[str, tuple[float, float, float]]:
    """``{parameter: (low, high, default)}`` from a :class:`Recipe` or a mapping of that shape.

    Raises :class:`RecipeLimitsError` naming a parameter whose limits are missing or not finite.
    """
    if isinstance(recipe, Recipe):
        items = {p.name: (p.low, p.high, p.default) for p in recipe.parameters}
        rid = recipe.recipe_id
    else:
        items, rid = dict(recipe), "(given limits)"
    if not items:
        raise RecipeLimitsError(
            f"recipe {rid} defines no parameters with limits; nothing can be optimised safely"
        )
    out = {}
    for name, lim in items.items():
        lo, hi, default = (list(lim) + [None, None, None])[:3]
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            raise RecipeLimitsError(
                f"recipe {rid}: parameter {name!r} has no finite limits (low={lo}, high={hi})"
            )
        if lo > hi:
            raise RecipeLimitsError(f"recipe {rid}: parameter {name!r} has low {lo} above high {hi}")
        default = (lo + hi) / 2.0 if default is None else float(default)
        out[name] = (float(lo), float(hi), default)
    return out


def recommend_setpoints(
    surrogate: ProcessSurrogate,
    recipe: Recipe | Mapping[str, Any],
    *,
    target: str = "yield_pct",
    objective: str | float = "maximize",
    constraints: Sequence[Constraint] = (),
    context: Mapping[str, float] | None = None,
    outputs: Mapping[str, ProcessSurrogate] | None = None,
    risk: float = 1.0,
    n_trials: int = 120,
    seed: int = 0,
    trust_region: bool = True,
) -> Recommendation:
    """Search the surrogate for the best setpoints inside the recipe's limits and the constraints.

    ``objective``: 'maximize', 'minimize' or a number (hit that target value). The search
    maximises ``mean - risk x std`` (a cautious optimum stays where the data are) and, with
    ``trust_region``, searches only where the training data lie (their 1-99 % range per
    parameter, inside the limits). ``context`` fixes non-recipe features (chamber state such as
    days since PM) at given values.
    """
    from fabmind.models.process_search import search

    return search(
        surrogate,
        recipe,
        target=target,
        objective=objective,
        constraints=constraints,
        context=context,
        outputs=outputs,
        risk=risk,
        n_trials=n_trials,
        seed=seed,
        trust_region=trust_region,
    )
