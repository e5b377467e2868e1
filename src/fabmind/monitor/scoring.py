"""Streaming scoring per chamber with the FDC family's control charts (EWMA and CUSUM).

Each chamber gets an :class:`~fabmind.models.anomaly.EWMAMonitor` and a
:class:`~fabmind.models.anomaly.CUSUMMonitor` fitted on its first ``warmup`` samples (or on a
baseline saved earlier). Scoring a message is vectorised: the message's readings become a
samples x sensors matrix, EWMA runs as a linear filter started from the carried state, and the
tabular CUSUM uses the closed form of its ``max(0, .)`` recursion
(``S_t = C_t - min(0, min_{s<=t} C_s)`` with ``C`` the cumulative sum started at the carried
``S``), so no Python loop runs per sample.

The chart value of a sensor is ``max(|EWMA| / limit, CUSUM / h)``; >= 1 is out of control.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from fabmind.ingest.records import ReadingBatch


@dataclass(frozen=True)
class SensorDeviation:
    sensor: str
    ratio: float  # chart value / limit at the worst sample
    value: float
    expected: float
    sigma: float  # (value - expected) / spread


@dataclass
class ChartResult:
    """What one message did to a chamber's charts."""

    chamber_id: str
    n_samples: int
    max_ratio: float
    first_violation_us: int | None  # sample time of the first out-of-control sample
    end_ratio: float  # EWMA ratio at the last sample (for return-to-normal)
    deviations: list[SensorDeviation] = field(default_factory=list)  # out-of-control sensors, worst first
    run_id: str | None = None

    @property
    def violated(self) -> bool:
        return self.first_violation_us is not None


@dataclass
class Baseline:
    mean: np.ndarray
    spread: np.ndarray
    n: int


class ChamberCharts:
    """EWMA + CUSUM state of one chamber (sensors in a fixed order)."""

    def __init__(self, chamber_id: str, sensors: list[str], *, warmup: int = 200, lam: float = 0.05, L: float = 5.0,
                 k: float = 1.0, h: float = 12.0):
        from fabmind.models.anomaly import CUSUMMonitor, EWMAMonitor

        self.chamber_id = chamber_id
        self.sensors = sensors
        self.index = {s: i for i, s in enumerate(sensors)}
        self._columns: dict[tuple[str, ...], np.ndarray] = {}  # message sensor order -> chart column
        self.warmup = warmup
        self.ewma = EWMAMonitor(lam=lam, L=L)
        self.cusum = CUSUMMonitor(k=k, h=h)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self.baseline: Baseline | None = None
        self.new_baseline = False  # set when fitted from live data, until saved
        n = len(sensors)
        self.e = np.zeros(n)
        self.hi = np.zeros(n)
        self.lo = np.zeros(n)

    # ------------------------------------------------------------------ fitting
    def set_baseline(self, mean: np.ndarray, spread: np.ndarray, n: int) -> None:
        signs = np.resize([-1.0, 1.0], self.ewma.min_samples)[:, None]
        frame = pd.DataFrame(np.nan_to_num(mean) + signs * spread, columns=self.sensors)  # then set exactly
        self.ewma.fit(frame)
        self.cusum.fit(frame)
        self.ewma.mean_ = self.cusum.mean_ = np.asarray(mean, dtype=float)
        self.ewma.spread_ = self.cusum.spread_ = np.asarray(spread, dtype=float)
        self.baseline = Baseline(self.ewma.mean_, self.ewma.spread_, n)

    def _fit_from_buffer(self) -> None:
        X = np.vstack(self._buffer)
        seen = np.isfinite(X).sum(axis=0) >= 2
        with np.errstate(all="ignore"):
            mean = np.where(seen, np.nanmean(np.where(seen, X, 0.0), axis=0), 0.0)
        X = np.where(np.isnan(X), mean, X)
        frame = pd.DataFrame(X, columns=self.sensors)
        self.ewma.fit(frame)
        self.cusum.fit(frame)
        # a sensor the chamber did not report while warming up has no baseline: it is not charted
        self.ewma.mean_ = self.cusum.mean_ = np.where(seen, self.ewma.mean_, np.nan)
        self.baseline = Baseline(self.ewma.mean_, self.ewma.spread_, len(X))
        self.new_baseline = True
        self._buffer.clear()

    # ------------------------------------------------------------------ scoring
    def matrix(self, b: ReadingBatch) -> tuple[np.ndarray, np.ndarray]:
        """samples x sensors (NaN where a sensor was not sampled) and the sample times."""
        if b.dense is not None:  # validated live message: already a block, only its columns to map
            d = b.dense
            cols = self._columns.get(tuple(d.sensors))
            if cols is None:
                cols = np.array([self.index.get(s, -1) for s in d.sensors], dtype=np.int64)
                self._columns[tuple(d.sensors)] = cols
            if len(cols) == len(self.sensors) and (cols == np.arange(len(cols))).all():
                return d.X, d.ts_us
            keep = cols >= 0
            X = np.full((len(d.ts_us), len(self.sensors)), np.nan)
            X[:, cols[keep]] = d.X[:, keep]
            return X, d.ts_us
        times, row = np.unique(b.ts_us, return_inverse=True)
        inverse, names = pd.factorize(b.sensor)  # a handful of names, repeated per sample (hashing, no sort)
        col = np.array([self.index.get(s, -1) for s in names.tolist()], dtype=np.int64)[inverse]
        keep = col >= 0
        X = np.full((len(times), len(self.sensors)), np.nan)
        X[row[keep], col[keep]] = b.value[keep]
        return X, times

    def score(self, b: ReadingBatch) -> ChartResult | None:
        if len(b) == 0:
            return None
        X, times = self.matrix(b)
        if self.baseline is None:
            self._buffer.append(X)
            self._buffered += len(X)
            if self._buffered >= max(self.warmup, self.ewma.min_samples):
                self._fit_from_buffer()
            return ChartResult(self.chamber_id, len(X), 0.0, None, 0.0, run_id=b.run_id)
        return self._chart(X, times, b.run_id)

    def _chart(self, X: np.ndarray, times: np.ndarray, run_id: str | None) -> ChartResult:
        mean, spread = self.ewma.mean_, self.ewma.spread_
        z = (X - mean) / spread
        z = np.where(np.isnan(z), 0.0, z)  # not sampled: no evidence either way
        lam = self.ewma.lam
        e, _ = lfilter([lam], [1.0, -(1 - lam)], z, axis=0, zi=((1 - lam) * self.e)[None, :])
        ewma_ratio = np.abs(e) / self.ewma._limit
        k, h = self.cusum.k, self.cusum.h
        hi = _cusum(self.hi, z - k)
        lo = _cusum(self.lo, -z - k)
        ratio = np.maximum(ewma_ratio, np.maximum(hi, lo) / h)
        self.e = e[-1]
        # a CUSUM side that signalled restarts, so it can return to normal when the process does
        self.hi = np.where(hi[-1] >= h, 0.0, hi[-1])
        self.lo = np.where(lo[-1] >= h, 0.0, lo[-1])
        worst_per_sample = ratio.max(axis=1)
        bad = np.flatnonzero(worst_per_sample >= 1.0)
        first = int(times[bad[0]]) if bad.size else None
        devs: list[SensorDeviation] = []
        if bad.size:
            peak = ratio.max(axis=0)
            rows = ratio.argmax(axis=0)
            for j in np.argsort(-peak):
                if peak[j] < 1.0:
                    break
                r = rows[j]
                val = X[r, j] if np.isfinite(X[r, j]) else mean[j]
                devs.append(SensorDeviation(self.sensors[j], float(peak[j]), float(val), float(mean[j]),
                                            float((val - mean[j]) / spread[j])))
        return ChartResult(self.chamber_id, len(X), float(worst_per_sample.max()), first,
                           float(ewma_ratio[-1].max()), devs, run_id)


def _cusum(start: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``S_t = max(0, S_{t-1} + y_t)`` for every column at once, from ``S_0 = start``."""
    c = start[None, :] + np.cumsum(y, axis=0)
    return c - np.minimum(0.0, np.minimum.accumulate(c, axis=0))
