"""The statistics under yield commonality: multiple-testing correction, excursion grouping,
worst-stretch search (epidemic change points) and a light Mann-Whitney z-score."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from fabmind.models.commonality_types import CommonalityError, Excursion


def adjust_pvalues(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """Benjamini-Hochberg ('bh') or Holm ('holm') adjusted p-values, same order as ``p``."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order]
    if method == "bh":
        adj = ranked * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(adj[::-1])[::-1]
    elif method == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        raise CommonalityError(f"unknown multiple-testing correction {method!r}; use 'bh' or 'holm'")
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def detect_excursions(
    lot_metric: pd.DataFrame,
    metric: str = "yield_pct",
    direction: str = "low",
    k_sigma: float = 3.0,
    gap_hours: float = 24.0,
    min_lots: int = 2,
) -> list[Excursion]:
    """Lots beyond ``median -/+ k_sigma x robust sigma`` grouped into episodes (gap <= ``gap_hours``).

    ``lot_metric`` has columns ``lot_id``, ``ts`` and ``metric`` (one row per lot).
    """
    if lot_metric.empty:
        return []
    v = lot_metric[metric].to_numpy(dtype=float)
    center = float(np.median(v))
    sigma = float(1.4826 * np.median(np.abs(v - center))) or float(np.std(v)) or 1e-9
    sign = -1.0 if direction == "low" else 1.0
    limit = center + sign * k_sigma * sigma
    out_mask = (v < limit) if direction == "low" else (v > limit)
    out = lot_metric.loc[out_mask].sort_values("ts")
    if out.empty:
        return []
    ts = out["ts"].to_numpy()
    episode = np.concatenate([[0], np.cumsum(np.diff(ts) > np.timedelta64(int(gap_hours * 3600), "s"))])
    excursions = []
    for i, (_, grp) in enumerate(out.groupby(episode, sort=True)):
        if len(grp) < min_lots:
            continue
        vals = grp[metric].to_numpy(dtype=float)
        excursions.append(
            Excursion(
                excursion_id=f"EXC-{metric.replace(':', '-')}-{len(excursions) + 1:03d}",
                metric=metric,
                direction=direction,
                start=utc_datetime(grp["ts"].min()),
                end=utc_datetime(grp["ts"].max()),
                lots=tuple(grp["lot_id"].astype(str)),
                control_limit=limit,
                center_line=center,
                sigma=sigma,
                mean_value=float(vals.mean()),
                worst_value=float(vals.min() if direction == "low" else vals.max()),
            )
        )
    return excursions


def worst_stretches(x: np.ndarray, k: int, min_gain: float) -> list[tuple[int, int, float]]:
    """Up to ``k`` disjoint stretches [i, j] with the largest sums of ``x`` (each >= ``min_gain``):
    the maximum sub-array (vectorised through the running minimum of the cumulative sum), then the
    same left and right of it, largest first (a chamber can have more than one episode)."""
    found: list[tuple[int, int, float]] = []
    segments = [(0, len(x))]
    while segments and len(found) < k:
        best = None
        for a, b in segments:
            if b - a < 3:
                continue
            cs = np.concatenate([[0.0], np.cumsum(x[a:b])])
            gains = cs[1:] - np.minimum.accumulate(cs)[:-1]
            j = int(np.argmax(gains))
            if gains[j] >= min_gain and (best is None or gains[j] > best[3]):
                best = (a, b, int(np.argmin(cs[: j + 1])), float(gains[j]), j)
        if best is None:
            break
        a, b, i, gain, j = best
        found.append((a + i, a + j, gain))
        segments.remove((a, b))
        segments += [(a, a + i), (a + j + 1, b)]
    return found


def mwu_z_less(x: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney U as a z-score (normal approximation, tie-corrected); large = ``x`` below ``y``.

    Ranks come from one sort; tied values (rare in residuals, common in integer defect counts) get
    their average rank and the variance its tie correction, as in ``scipy.stats.mannwhitneyu``.
    """
    n1, n2 = len(x), len(y)
    n = n1 + n2
    v = np.concatenate([x, y])
    order = np.argsort(v, kind="stable")
    sv = v[order]
    new_value = np.concatenate([[True], sv[1:] != sv[:-1]])
    if new_value.all():  # no ties: ranks 1..n
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        tie = 0.0
    else:
        group = np.cumsum(new_value) - 1
        counts = np.bincount(group)
        first = np.flatnonzero(new_value)
        avg = first + (counts + 1) / 2.0  # average rank of each tie group (1-based)
        ranks = np.empty(n)
        ranks[order] = avg[group]
        tie = float((counts**3 - counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie)
    if var <= 0:
        return 0.0
    return float((n1 * n2 / 2.0 - u1 - 0.5) / np.sqrt(var))


def utc_datetime(t: object) -> datetime:
    """An aware UTC datetime (the analysis works in naive UTC internally)."""
    ts = pd.Timestamp(t).floor("us")
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()
