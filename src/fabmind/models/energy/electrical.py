"""What a meter's electrical channels say about its active energy (kWh) in the same interval.

A power meter logs, per interval, active energy P (kWh), reactive energy Q (kVArh, lagging and/or
leading) and power factors PF = P / sqrt(P² + Q²). Two of the three pin down the third — the power
triangle — so a channel pair (Q, PF) of the same interval *is* the kWh, up to rounding:
``P = Q · PF / sqrt(1 − PF²)``. That is why concurrent channel pairs must not be used to "forecast"
consumption (see ``bench/steel_energy.py``), and why, where the kWh channel failed or is not yet
read, a surviving pair gives it back exactly (virtual metering).

* :func:`power_triangle_kwh` — P from a (Q, PF) pair; NaN where the pair holds no magnitude
  (Q = 0, PF = 1 or missing).
* :func:`pf_matched_history` — for a PF channel alone (ratio, no magnitude): the kWh of the recent
  intervals whose PF was closest to this one's (the same machines running give the same PF).

    >>> import numpy as np
    >>> power_triangle_kwh(np.array([30.0, 0.0, 5.0]), np.array([80.0, 90.0, 100.0])).round(2).tolist()
    [40.0, nan, nan]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fabmind.models.base import ModelError


def power_triangle_kwh(kvarh: np.ndarray | pd.Series, power_factor: np.ndarray | pd.Series, *,
                       pf_scale: float = 100.0) -> np.ndarray:
    """Active energy implied by reactive energy ``kvarh`` and ``power_factor`` (in ``pf_scale`` units,
    100 = percent) of the same interval; NaN where Q <= 0, PF outside (0, 1) or either is missing."""
    q = np.asarray(kvarh, dtype=float)
    pf = np.asarray(power_factor, dtype=float) / pf_scale
    if q.shape != pf.shape:
        raise ModelError(f"power_triangle_kwh: kvarh has shape {q.shape}, power_factor {pf.shape}")
    ok = np.isfinite(q) & np.isfinite(pf) & (q > 0) & (pf > 0) & (pf < 1)
    out = np.full(q.shape, np.nan)
    out[ok] = q[ok] * pf[ok] / np.sqrt(1.0 - pf[ok] ** 2)
    return out


def pf_matched_history(kwh: pd.Series, power_factor: pd.Series, *, windows: Sequence[int] = (8, 32, 96)) -> pd.DataFrame:
    """Per interval and look-back window ``w`` (intervals): among the previous ``w`` intervals, the kWh
    of the one whose PF was closest to this interval's PF (``pfmatch<w>_kwh``), that PF distance
    (``_dist``), how far back it was (``_ago``) and the mean kWh of the 3 closest (``_kwh3``).
    Uses only past kWh; NaN/gaps are skipped."""
    if len(kwh) != len(power_factor):
        raise ModelError(f"pf_matched_history: kwh has {len(kwh)} rows, power_factor {len(power_factor)}")
    if not windows or min(windows) < 1:
        raise ModelError(f"pf_matched_history: windows must be >= 1 interval, got {list(windows)}")
    p = kwh.to_numpy(dtype=float)
    pf = power_factor.to_numpy(dtype=float)
    n, depth = len(p), max(windows)
    past_p = np.full((n, depth), np.nan)
    past_pf = np.full((n, depth), np.nan)
    for k in range(1, min(depth, n - 1) + 1):
        past_p[k:, k - 1], past_pf[k:, k - 1] = p[:-k], pf[:-k]
    dist = np.abs(past_pf - pf[:, None])
    dist[~np.isfinite(dist) | ~np.isfinite(past_p)] = np.inf
    rows = np.arange(n)[:, None]
    out = pd.DataFrame(index=kwh.index)
    for w in windows:
        order = np.argsort(dist[:, :w], axis=1, kind="stable")[:, :3]
        best = order[:, 0]
        d1 = dist[np.arange(n), best]
        found = np.isfinite(d1)
        top3 = np.where(np.isfinite(dist[rows, order]), past_p[rows, order], np.nan)
        out[f"pfmatch{w}_kwh"] = np.where(found, past_p[np.arange(n), best], np.nan)
        out[f"pfmatch{w}_dist"] = np.where(found, d1, np.nan)
        out[f"pfmatch{w}_ago"] = np.where(found, best + 1, np.nan)
        cnt = np.isfinite(top3).sum(axis=1)
        out[f"pfmatch{w}_kwh3"] = np.where(cnt > 0, np.nansum(top3, axis=1) / np.maximum(cnt, 1), np.nan)
    return out
