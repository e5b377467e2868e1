"""Trajectory-similarity remaining useful life (after Wang et al., PHM08 data challenge winner, 2008).

A library of run-to-failure histories is turned into smooth *health-index* (HI) trajectories:

1. a linear health index: ridge regression of the standardised sensors on a per-cycle target, either the
   capped remaining life scaled to [0, 1] (``hi_target="capped"``: ``min(RUL, hi_cap) / hi_cap``) or Wang's
   two-end labelling (``"ends"``: 1 on the first ``hi_ends`` cycles of every history, 0 on the last ones);
2. every library engine's HI is smoothed over its whole life (``smooth``: an exponential degradation curve
   ``a + b * exp(c * t / life)`` fitted by least squares over a grid of ``c``, a quadratic, or nothing).

A query history (an asset's cycles so far, oldest first) is mapped to its raw HI; its last ``window``
cycles are slid along every library trajectory, each trajectory's best-matching end point gives one
estimate (the library engine's remaining life after that point) and the ``k`` closest trajectories are
averaged with weights from their match distances. A prediction uses the query's own past only (causal).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def engine(life):
    ...     t = np.arange(life)
    ...     wear = np.exp(4 * (t / life - 1))
    ...     return np.c_[wear + rng.normal(0, .02, life), -wear + rng.normal(0, .02, life)]
    >>> lib = [engine(int(n)) for n in rng.integers(120, 220, 30)]
    >>> m = SimilarityRUL(window=30, k=5).fit(lib)
    >>> q = engine(180)[:150]                     # true remaining life: 30 cycles
    >>> bool(abs(m.predict([q])[0] - 30) < 20)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fabmind.models.base import ModelError

_SHAPES = np.linspace(0.25, 10.0, 40)  # grid of the exponential curve's rate c (per life)


def histories(frame: pd.DataFrame, *, unit: str, order: str, sensors: Sequence[str]) -> list[np.ndarray]:
    """Per asset (in order of first appearance) its ``sensors`` as a (cycles, sensors) array, sorted by ``order``."""
    missing = [c for c in (unit, order, *sensors) if c not in frame.columns]
    if missing:
        raise ModelError(f"histories: columns {missing} not in the frame")
    out = []
    for _, g in frame.groupby(unit, sort=False):
        out.append(g.sort_values(order)[list(sensors)].to_numpy(dtype=float))
    return out


def _ewm(x: np.ndarray, alpha: float) -> np.ndarray:
    """Causal exponentially weighted mean (adjusted, as pandas' ``ewm(alpha=...).mean()``)."""
    out, num, den = np.empty(len(x)), 0.0, 0.0
    for i, v in enumerate(x):
        num = v + (1 - alpha) * num
        den = 1 + (1 - alpha) * den
        out[i] = num / den
    return out


def _smooth(hi: np.ndarray, how: str, alpha: float = 0.1) -> np.ndarray:
    n = len(hi)
    if how == "ewm":
        return _ewm(hi, alpha)
    t = np.arange(n, dtype=float) / max(n - 1, 1)
    if how == "none" or n < 4:
        return hi.copy()
    if how == "quad":
        return np.polyval(np.polyfit(t, hi, 2), t)
    # exponential degradation a + b * exp(c t): linear least squares in (a, b) for every c on the grid
    best, best_sse = hi, np.inf
    for c in _SHAPES:
        A = np.c_[np.ones(n), np.expm1(c * t)]
        coef, *_ = np.linalg.lstsq(A, hi, rcond=None)
        fit = A @ coef
        sse = float(((fit - hi) ** 2).sum())
        if sse < best_sse:
            best, best_sse = fit, sse
    return best


class SimilarityRUL:
    """Remaining useful life by matching a query's health-index trajectory against a run-to-failure library.

    Parameters
    ----------
    window: the query's last ``window`` cycles are matched (fewer when the history is shorter; at least
        ``min_history``). ``k``: number of nearest library trajectories averaged. ``weight``: ``"inverse"``
        (1 / distance), ``"exp"`` (``exp(-distance / (tau * nearest distance))``) or ``"uniform"``.
    hi_target / hi_cap / hi_ends: the health-index regression target (see the module docstring).
    smooth: ``"exp"``, ``"quad"`` or ``"none"`` — smoothing of the library trajectories, or ``"ewm"``: a causal
        exponentially weighted mean (``ewm_alpha``) applied alike to library and query histories; ``query_smooth``:
        ``"none"``, ``"linear"`` or ``"quad"`` — a polynomial fitted to the query's matched window.
    rul_cap: optional cap of every trajectory's estimate before averaging (a piecewise-linear target, as the
        other RUL members are trained to: early in life the match position is ambiguous).
    max_rul: optional upper clip of the prediction (e.g. the cap other members are trained to).

    The defaults are the best of the variants measured on C-MAPSS FD001 with ``bench/cmapss.py``'s
    engine-grouped CV (with ``rul_cap=130``: RMSE 15.6 alone, against about 12-13 for the LightGBM and CNN
    members; its errors correlate 0.76 with theirs and blending it in made the CV worse at every weight, so
    the benchmark does not use it — see the benchmark's selection note).
    """

    def __init__(self, window: int = 60, k: int = 10, *, min_history: int = 10, weight: str = "inverse",
                 tau: float = 1.0, hi_target: str = "ends", hi_cap: float = 130.0, hi_ends: int = 20,
                 smooth: str = "exp", alpha: float = 1.0, rul_cap: float | None = None,
                 query_smooth: str = "none", ewm_alpha: float = 0.1, max_rul: float | None = None):
        if weight not in ("inverse", "exp", "uniform"):
            raise ModelError(f"SimilarityRUL: weight must be 'inverse', 'exp' or 'uniform', not {weight!r}")
        if hi_target not in ("capped", "ends"):
            raise ModelError(f"SimilarityRUL: hi_target must be 'capped' or 'ends', not {hi_target!r}")
        if smooth not in ("exp", "quad", "ewm", "none"):
            raise ModelError(f"SimilarityRUL: smooth must be 'exp', 'quad', 'ewm' or 'none', not {smooth!r}")
        if window < 2 or k < 1 or min_history < 2:
            raise ModelError("SimilarityRUL: window >= 2, k >= 1 and min_history >= 2 are required")
        self.window, self.k, self.min_history, self.weight, self.tau = window, k, min_history, weight, tau
        self.hi_target, self.hi_cap, self.hi_ends, self.smooth, self.alpha = hi_target, hi_cap, hi_ends, smooth, alpha
        if query_smooth not in ("none", "quad", "linear"):
            raise ModelError(f"SimilarityRUL: query_smooth must be 'none', 'quad' or 'linear', not {query_smooth!r}")
        self.rul_cap, self.query_smooth, self.ewm_alpha, self.max_rul = rul_cap, query_smooth, ewm_alpha, max_rul

    # -- fitting ------------------------------------------------------------------------------------------
    def fit(self, library: Sequence[np.ndarray]) -> "SimilarityRUL":
        """``library``: run-to-failure histories, each (cycles, sensors), oldest cycle first, last = failure."""
        lib = [self._check(h, "library history") for h in library]
        if len(lib) < self.k:
            raise ModelError(f"SimilarityRUL: {len(lib)} library histories, fewer than k={self.k}")
        width = {h.shape[1] for h in lib}
        if len(width) != 1:
            raise ModelError(f"SimilarityRUL: library histories have different sensor counts {sorted(width)}")
        X = np.vstack(lib)
        targets = []
        for h in lib:
            rul = np.arange(len(h) - 1, -1, -1, dtype=float)
            if self.hi_target == "capped":
                targets.append(np.minimum(rul, self.hi_cap) / self.hi_cap)
            else:
                y = np.full(len(h), np.nan)
                m = min(self.hi_ends, len(h) // 2)
                y[:m], y[len(h) - m:] = 1.0, 0.0
                targets.append(y)
        y = np.concatenate(targets)
        keep = ~np.isnan(y)
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = (X[keep] - self.mean_) / self.scale_
        zc, yc = Z - Z.mean(axis=0), y[keep] - y[keep].mean()
        self.coef_ = np.linalg.solve(zc.T @ zc + self.alpha * np.eye(Z.shape[1]), zc.T @ yc)
        self.intercept_ = float(y[keep].mean() - Z.mean(axis=0) @ self.coef_)
        self.n_sensors_ = X.shape[1]
        self.curves_ = [_smooth(self._hi(h), self.smooth, self.ewm_alpha) for h in lib]
        return self

    def health_index(self, history: np.ndarray) -> np.ndarray:
        """The fitted linear health index of every cycle of ``history`` (about 1 healthy, 0 at failure)."""
        self._fitted()
        return self._hi(self._check(history, "history", min_rows=1))

    def _hi(self, h: np.ndarray) -> np.ndarray:
        return ((h - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    # -- prediction ---------------------------------------------------------------------------------------
    def predict(self, queries: Sequence[np.ndarray]) -> np.ndarray:
        """Remaining useful life after the last cycle of every query history."""
        return np.array([self._predict_one(q) for q in queries], dtype=float)

    def _predict_one(self, history: np.ndarray) -> float:
        self._fitted()
        h = self._check(history, "query history", min_rows=self.min_history)
        n = min(self.window, len(h), max(len(c) for c in self.curves_))
        if self.smooth == "ewm":  # the same causal filter over the query's whole history, then its last n cycles
            q = _ewm(self._hi(h), self.ewm_alpha)[len(h) - n:]
        else:
            q = self._hi(h[len(h) - n:])
        if self.query_smooth != "none" and n >= 4:
            t = np.arange(n, dtype=float)
            q = np.polyval(np.polyfit(t, q, 2 if self.query_smooth == "quad" else 1), t)
        dist, rul = [], []
        for curve in self.curves_:
            if len(curve) < n:
                continue
            seg = np.lib.stride_tricks.sliding_window_view(curve, n)  # (len - n + 1, n), row e ends at e + n - 1
            d = ((seg - q) ** 2).mean(axis=1)
            e = int(np.argmin(d))
            dist.append(float(d[e]))
            rul.append(float(len(curve) - (e + n)))
        if not dist:
            raise ModelError(f"SimilarityRUL: no library trajectory is as long as the {n}-cycle match window")
        dist, rul = np.array(dist), np.array(rul)
        if self.rul_cap is not None:
            rul = np.minimum(rul, self.rul_cap)
        near = np.argsort(dist, kind="stable")[: self.k]
        d, r = dist[near], rul[near]
        if self.weight == "uniform":
            w = np.ones_like(d)
        elif self.weight == "inverse":
            w = 1.0 / (d + 1e-12)
        else:
            w = np.exp(-d / (self.tau * max(d[0], 1e-12)))
        out = float((w * r).sum() / w.sum())
        return min(out, self.max_rul) if self.max_rul is not None else out

    # -- helpers ------------------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "curves_"):
            raise ModelError("SimilarityRUL: call fit() first")

    def _check(self, h: np.ndarray, what: str, min_rows: int | None = None) -> np.ndarray:
        a = np.asarray(h, dtype=float)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ModelError(f"SimilarityRUL: {what} must be a (cycles, sensors) array, got shape {a.shape}")
        need = self.min_history if min_rows is None else min_rows
        if len(a) < need:
            raise ModelError(f"SimilarityRUL: {what} has {len(a)} cycles, at least {need} are needed")
        if not np.isfinite(a).all():
            raise ModelError(f"SimilarityRUL: {what} contains NaN or infinite values")
        if hasattr(self, "n_sensors_") and a.shape[1] != self.n_sensors_:
            raise ModelError(f"SimilarityRUL: {what} has {a.shape[1]} sensors, the library has {self.n_sensors_}")
        return a
