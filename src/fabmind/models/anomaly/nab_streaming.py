"""Streaming detector for univariate streams (built for the NAB protocol): value surprise + shape novelty.

Three online evidence channels, all causal (the score of record ``t`` uses records ``0..t`` only):

* **value surprise** (as :class:`~fabmind.models.anomaly.univariate.RangeZDetector`): the rolling
  z-score of ``x_t`` against the previous ``z_window`` values (weight ``z_weight``), plus
  ``breakout_weight`` x how far ``x_t`` leaves the [min, max] range seen so far (relative to that range);
* **recent breakout**: ``recent_breakout_weight`` x how far ``x_t`` leaves the [min, max] range of the
  previous ``recent_window`` records (default: one probationary period), so an excursion that is large
  for recent times still counts after an older, larger one. For a *count stream* (every probationary
  record a non-negative integer; decided when the probation ends, on by default via ``count_log``) this
  channel is measured on ``log1p`` values, i.e. as a relative change: count streams (tweet volumes,
  request counts) spread with their level, so a burst from 2 to 20 is not 9x as surprising as one from
  2 to 4;
* **shape novelty** (in the spirit of ARTime's windowed, down-sampled features): the stream is averaged
  over blocks of ``step`` records (``step`` chosen so the probationary period holds about
  ``novelty_window * novelty_per_probation`` blocks); block means within ``novelty_chomp`` x (range seen
  so far) of the running median of block means are set to that median (small wiggles carry no shape);
  every block ends a feature vector of the last ``novelty_window`` block means; its novelty is the
  distance to its nearest neighbour among *all earlier* feature vectors (continued online learning:
  every vector joins the memory), divided by the value range seen so far. The channel reports that
  novelty relative to a slowly forgetting maximum of the novelties seen since ``novelty_warm`` x
  probation (the maximum halves every ``novelty_halflife`` probationary periods unless renewed), so a
  window more novel than anything seen lately scores > 1;
* **seasonal residual** (for strongly periodic streams): at the end of the probationary period the
  period ``P`` is estimated from the probationary records only, as the lag (``season_min_lag`` ..
  probation / 2) with the highest local maximum of the autocorrelation; if that autocorrelation is at
  least ``season_min_acf`` the channel is on and reports the rolling z-score of the residual
  ``r_t = x_t - x_{t-P}`` against the previous ``z_window`` residuals (weight ``season_weight``), so a
  cycle that departs from the previous one (a missing daily peak) counts even when every value is
  ordinary. The channel is off for streams without a clear period and when ``season_weight`` is 0.

Evidence ``e = max(max(z_weight * z, novelty_weight * novelty) + breakout_weight * breakout,
recent_breakout_weight * recent_breakout, season_weight * seasonal_z)`` is mapped to ``e / (e + 3)``
in [0, 1); it is 0 during the
first ``probation`` records, and a score is reported only when it is a new high over the last
``suppress`` records (an ongoing excursion alarms once). ``score_series`` is the vectorised form;
``update`` its per-record twin.

Example::

    >>> import numpy as np
    >>> from fabmind.models.anomaly.nab_streaming import NABStreamingDetector
    >>> x = np.r_[np.sin(np.arange(600) / 5.0), 6.0, np.sin(np.arange(100) / 5.0)]
    >>> s = NABStreamingDetector(probation=100).score_series(x)
    >>> int(np.argmax(s)), bool(s.max() > 0.9)
    (600, True)
"""

from __future__ import annotations

import bisect
from collections import deque

import numpy as np
import pandas as pd

from fabmind.models.anomaly.univariate import breakout, new_highs, rolling_z

__all__ = ["NABStreamingDetector", "seasonal_period"]


def seasonal_period(values: np.ndarray, min_lag: int = 10) -> tuple[int, float]:
    """(lag, autocorrelation) of the highest local maximum of the autocorrelation over lags
    ``min_lag`` .. ``len(values) // 2 - 1``; ``(0, 0.0)`` when there is none (or the stream is constant)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    top = n // 2
    if top - 1 < max(min_lag, 2) or x.std() == 0:
        return 0, 0.0
    ac = np.zeros(top + 1)
    for lag in range(1, top + 1):
        a, b = x[:-lag], x[lag:]
        sa, sb = a.std(), b.std()
        if sa > 0 and sb > 0:
            ac[lag] = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    best = (0, 0.0)
    for lag in range(max(min_lag, 2), top):
        if ac[lag] >= ac[lag - 1] and ac[lag] >= ac[lag + 1] and ac[lag] > best[1]:
            best = (lag, float(ac[lag]))
    return best


def _median_sorted(a: list[float]) -> float:
    k = len(a)
    return a[k // 2] if k % 2 else 0.5 * (a[k // 2 - 1] + a[k // 2])


class NABStreamingDetector:
    def __init__(self, probation: int = 0, z_window: int = 400, min_history: int = 20, z_weight: float = 0.8,
                 breakout_weight: float = 3000.0, recent_window: int | None = None,
                 recent_breakout_weight: float = 50.0, novelty_window: int = 8,
                 novelty_per_probation: int = 13, novelty_weight: float = 30.0, novelty_warm: float = 0.5,
                 novelty_halflife: float | None = 4.0, novelty_chomp: float = 0.03,
                 season_weight: float = 3.0, season_min_acf: float = 0.8, season_min_lag: int = 10,
                 count_log: bool = True, suppress: int = 100):
        self.probation = int(probation)
        self.z_window = z_window
        self.min_history = min_history
        self.z_weight = z_weight
        self.breakout_weight = breakout_weight
        self.recent_window = int(recent_window if recent_window is not None
                                 else max(self.probation, 2 * min_history))
        self.recent_breakout_weight = recent_breakout_weight
        self.novelty_window = novelty_window
        self.novelty_per_probation = novelty_per_probation
        self.novelty_weight = novelty_weight
        self.novelty_warm = novelty_warm
        self.novelty_halflife = novelty_halflife
        self.novelty_chomp = novelty_chomp
        self.season_weight = season_weight
        self.season_min_acf = season_min_acf
        self.season_min_lag = season_min_lag
        self.count_log = count_log
        self.suppress = suppress
        self.step = max(1, int(round(self.probation / (novelty_window * novelty_per_probation))))
        pb_blocks = self.probation / self.step
        halflife = None if novelty_halflife is None else max(novelty_halflife * pb_blocks, 1.0)
        self._decay = 1.0 if halflife is None else 0.5 ** (1.0 / halflife)
        self.reset()

    # ------------------------------------------------------------------ streaming form
    def reset(self) -> None:
        self._hist: deque[float] = deque(maxlen=self.z_window)
        self._recent: deque[float] = deque(maxlen=self.recent_window)
        self._raw: deque[float] = deque(maxlen=max(self.suppress, 1))
        self._n = 0
        self._hi = -np.inf
        self._lo = np.inf
        self._block: list[float] = []
        self._ds: list[float] = []
        self._ds_sorted: list[float] = []
        self._ds_hi = -np.inf
        self._ds_lo = np.inf
        self._feats: list[np.ndarray] = []
        self._nov_max = 0.0
        self._head: list[float] = []  # the probationary records (for the period estimate)
        self._period = 0
        self._past: deque[float] = deque(maxlen=1)  # the last ``period`` records once the period is known
        self._resid: deque[float] = deque(maxlen=self.z_window)
        self._all_counts = True  # every record so far a non-negative integer (decides the count gate)
        self._count = False  # count stream: recent breakout on log1p values (decided when the probation ends)

    def _is_count_stream(self, head: np.ndarray) -> bool:
        """Whether the recent-breakout channel works on ``log1p`` values: every probationary record is a
        non-negative integer (and there are at least ``min_history`` of them)."""
        h = np.asarray(head, dtype=float)[: self.probation]
        return bool(self.count_log and self.probation >= self.min_history and len(h) >= self.probation
                    and (h >= 0).all() and (h == np.round(h)).all())

    def _season_period(self, head: np.ndarray) -> int:
        """The period used by the seasonal channel (0 = off), from the probationary records only."""
        if self.season_weight <= 0 or self.probation <= 0:
            return 0
        lag, acf = seasonal_period(head[: self.probation], self.season_min_lag)
        return lag if (lag > 0 and acf >= self.season_min_acf) else 0

    def _season_update(self, x: float) -> float:
        """Feed one record; returns the seasonal-residual z-score (0 while off or warming up)."""
        if self._n < self.probation:
            if self.season_weight > 0:
                self._head.append(x)
            return 0.0
        if self._n == self.probation and self.season_weight > 0:
            head = np.asarray(self._head)
            self._head = []
            self._period = self._season_period(head)
            if self._period:
                self._past = deque(head[-self._period:].tolist(), maxlen=self._period)
                r_past = head[self._period:] - head[: -self._period]
                self._resid.extend(r_past[-self.z_window:].tolist())
        if not self._period:
            return 0.0
        r = x - self._past[0]
        z = 0.0
        if len(self._resid) >= self.min_history:
            h = np.fromiter(self._resid, float)
            mu, sd = h.mean(), h.std(ddof=1)
            z = abs(r - mu) / (sd + 1e-9 * (1 + abs(mu)))
        self._resid.append(r)
        self._past.append(x)
        return z

    def _novelty_update(self, x: float) -> float:
        """Feed one record; returns the novelty ratio when ``x`` closes a block (else 0)."""
        self._block.append(x)
        if len(self._block) < self.step:
            return 0.0
        m = float(np.mean(self._block))
        self._block = []
        self._ds_hi, self._ds_lo = max(self._ds_hi, m), min(self._ds_lo, m)
        rng = (self._ds_hi - self._ds_lo) + 1e-9
        bisect.insort(self._ds_sorted, m)
        if self.novelty_chomp > 0:
            med = _median_sorted(self._ds_sorted)
            if abs(m - med) < self.novelty_chomp * rng:
                m = med
        self._ds.append(m)
        j = len(self._ds) - 1  # block index just closed
        if j + 1 < self.novelty_window:
            return 0.0
        f = np.asarray(self._ds[-self.novelty_window:])
        d = 0.0
        if self._feats:
            mem = np.asarray(self._feats)
            d2 = float(np.min(np.sum(mem * mem, axis=1) + f @ f - 2.0 * mem @ f))
            d = np.sqrt(max(d2, 0.0))
        self._feats.append(f)
        d /= rng
        pb_blocks = self.probation / self.step
        out = d / self._nov_max if (j >= pb_blocks and self._nov_max > 0) else 0.0
        if j >= self.novelty_warm * pb_blocks:
            self._nov_max = max(self._nov_max * self._decay, d)
        return out

    def update(self, x: float) -> float:
        """Score the next value of the stream (uses only the values seen up to and including it)."""
        x = float(x)
        z = brk = rbrk = 0.0
        if len(self._hist) >= self.min_history:
            h = np.fromiter(self._hist, float)
            mu, sd = h.mean(), h.std(ddof=1)
            z = abs(x - mu) / (sd + 1e-9 * (1 + abs(mu)))
        if self._n >= self.min_history:
            brk = max(x - self._hi, self._lo - x, 0.0) / (self._hi - self._lo + 1e-9)
        if self._n < self.probation:
            self._all_counts = self._all_counts and x >= 0 and x.is_integer()
        elif self._n == self.probation:
            self._count = bool(self.count_log and self.probation >= self.min_history and self._all_counts)
        if len(self._recent) >= self.min_history:
            rhi, rlo, xr = max(self._recent), min(self._recent), x
            if self._count:  # log1p is monotone: the log range is the log of the range's ends
                rhi, rlo, xr = np.log1p(max(rhi, 0.0)), np.log1p(max(rlo, 0.0)), np.log1p(max(x, 0.0))
            rbrk = max(xr - rhi, rlo - xr, 0.0) / (rhi - rlo + 1e-9)
        nov = self._novelty_update(x)
        sz = self._season_update(x)
        e = max(max(self.z_weight * z, self.novelty_weight * nov) + self.breakout_weight * brk,
                self.recent_breakout_weight * rbrk, self.season_weight * sz)
        e = min(e, 1e6)
        raw = e / (e + 3.0) if self._n >= self.probation else 0.0
        prev = max(self._raw) if self._raw else 0.0
        out = raw if (self.suppress <= 0 or raw > prev) else 0.0
        self._raw.append(raw)
        self._hist.append(x)
        self._recent.append(x)
        self._hi, self._lo = max(self._hi, x), min(self._lo, x)
        self._n += 1
        return out

    # ------------------------------------------------------------------ vectorised form
    def novelty_series(self, values: np.ndarray) -> np.ndarray:
        """Novelty ratio per record (non-zero only where a block closes); equal to the streaming channel."""
        v = np.asarray(values, dtype=float)
        n, step, w = len(v), self.step, self.novelty_window
        out = np.zeros(n)
        m = n // step
        if m < w:
            return out
        ds = v[: m * step].reshape(m, step).mean(axis=1)
        rng = (np.maximum.accumulate(ds) - np.minimum.accumulate(ds)) + 1e-9
        if self.novelty_chomp > 0:
            med = pd.Series(ds).expanding().median().to_numpy()
            ds = np.where(np.abs(ds - med) < self.novelty_chomp * rng, med, ds)
        feats = np.lib.stride_tricks.sliding_window_view(ds, w)  # feats[k] ends at block k + w - 1
        k_n = len(feats)
        sq = np.einsum("ij,ij->i", feats, feats)
        d = np.zeros(k_n)
        chunk = 512
        for a in range(1, k_n, chunk):
            b = min(a + chunk, k_n)
            d2 = sq[a:b, None] + sq[None, :b] - 2.0 * feats[a:b] @ feats[:b].T
            d2[np.arange(b - a)[:, None] <= (np.arange(b)[None, :] - a)] = np.inf  # only earlier vectors
            d[a:b] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
        end = np.arange(k_n) + w - 1
        d /= rng[end]
        pb_blocks = self.probation / step
        ratio = np.zeros(k_n)
        past, decay, warm = 0.0, self._decay, self.novelty_warm * pb_blocks
        for j, (dj, ej) in enumerate(zip(d.tolist(), end.tolist())):  # forgetting maximum: a short recurrence
            if ej >= pb_blocks and past > 0:
                ratio[j] = dj / past
            if ej >= warm:
                past = max(past * decay, dj)
        out[(end + 1) * step - 1] = ratio
        return out

    def season_series(self, values: np.ndarray) -> np.ndarray:
        """Seasonal-residual z-score per record (0 before the probation ends or where the channel is off)."""
        v = np.asarray(values, dtype=float)
        out = np.zeros(len(v))
        if len(v) <= self.probation:
            return out
        period = self._season_period(v[: self.probation])
        if not period:
            return out
        z = rolling_z(pd.Series(v).diff(period), self.z_window, self.min_history)
        out[self.probation:] = z[self.probation:]
        return out

    def score_series(self, values: np.ndarray) -> np.ndarray:
        """Vectorised scores of a whole stream; equal to calling :meth:`update` on each value in order."""
        v = np.asarray(values, dtype=float)
        s = pd.Series(v)
        z = rolling_z(s, self.z_window, self.min_history)
        brk = breakout(s, s.expanding(self.min_history).max().shift(1), s.expanding(self.min_history).min().shift(1))
        recent = s.rolling(self.recent_window, min_periods=self.min_history)
        rhi, rlo = recent.max().shift(1), recent.min().shift(1)
        if len(v) > self.probation and self._is_count_stream(v[: self.probation]):
            rbrk = breakout(np.log1p(s.clip(lower=0)), np.log1p(rhi.clip(lower=0)),
                            np.log1p(rlo.clip(lower=0)))
        else:
            rbrk = breakout(s, rhi, rlo)
        e = np.maximum(np.maximum(self.z_weight * z, self.novelty_weight * self.novelty_series(v))
                       + self.breakout_weight * brk, self.recent_breakout_weight * rbrk)
        if self.season_weight > 0:
            e = np.maximum(e, self.season_weight * self.season_series(v))
        e = np.minimum(e, 1e6)
        raw = e / (e + 3.0)
        raw[: self.probation] = 0.0
        return new_highs(raw, self.suppress)
