"""NAB scoring, re-implemented from the rules of numenta/NAB (``nab/sweeper.py``, ``nab/runner.py``):

* each record is given a *sweep score*: inside a labelled window, ``scaledSigmoid(-(right - i + 1)/width)``
  scaled by ``tpWeight / scaledSigmoid(-1)``; outside, ``scaledSigmoid(|prevRight - i| / (prevWidth - 1))``
  times ``fpWeight`` (``-fpWeight`` before the first window); records in the probationary period
  (``min(floor(0.15 n), 0.15 * 5000)``) are not scored;
* for a threshold, records with ``score >= threshold`` are detections; a window scores its best
  (earliest) detection, or ``-fnWeight`` if it has none; false positives add their sweep scores;
* one threshold per profile is optimised over the whole corpus;
* the total is normalised: ``100 (score - null) / (perfect - null)`` with ``perfect = n_windows * tpWeight``
  and ``null`` the score of the null detector (constant score) under the same rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PROBATION_PERCENT = 0.15


def scaled_sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probationary_length(n: int) -> float:
    return min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000)


@dataclass
class SweptFile:
    scores: np.ndarray  # detector output per record
    sweep: np.ndarray  # weighted sweep score per record (for the profile's cost matrix)
    window: np.ndarray  # global window id per record; -1 outside windows; -2 probationary


def sweep_file(n: int, windows: list[tuple[int, int]], cost: dict[str, float], first_window_id: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``calcSweepScore`` for one file: windows as (left index, right index), inclusive."""
    sweep = np.empty(n)
    window = np.full(n, -1, dtype=np.int64)
    prob = probationary_length(n)
    wins = list(windows)
    cur = None
    prev_right = prev_width = None
    wid = first_window_id - 1
    for i in range(n):
        if wins and i == wins[0][0]:
            cur = wins.pop(0)
            wid += 1
            cur_width = float(cur[1] - cur[0] + 1)
        if cur is not None:
            pos = -(cur[1] - i + 1) / cur_width
            sweep[i] = scaled_sigmoid(pos) * cost["tpWeight"] / MAX_TP
            window[i] = wid
        else:
            pos = 3.0 if prev_right is None else abs(prev_right - i) / float(prev_width - 1)
            sweep[i] = scaled_sigmoid(pos) * cost["fpWeight"]
        if i < prob:
            window[i] = -2
        if cur is not None and i == cur[1]:
            prev_right, prev_width = i, cur_width
            cur = None
    return sweep, window


def best_threshold(files: list[SweptFile], cost: dict[str, float]) -> tuple[float, float, dict[str, int]]:
    """``calcScoreByThreshold`` over the corpus; returns (threshold, raw score, counts) of the best."""
    scores = np.concatenate([f.scores for f in files])
    sweep = np.concatenate([f.sweep for f in files])
    window = np.concatenate([f.window for f in files])
    keep = window != -2
    scores, sweep, window = scores[keep], sweep[keep], window[keep]
    order = np.argsort(-scores, kind="stable")
    parts = {int(w): -cost["fnWeight"] for w in np.unique(window[window >= 0])}
    fp_sum = 0.0
    win_total = sum(parts.values())
    tp = fp = 0
    best = (1.1, win_total, {"tp": 0, "fp": 0})
    cur_thr = 1.1
    s_sorted, sw_sorted, w_sorted = scores[order], sweep[order], window[order]
    for k in range(len(order)):
        s = s_sorted[k]
        if s != cur_thr:
            total = win_total + fp_sum
            if total > best[1]:
                best = (cur_thr, total, {"tp": tp, "fp": fp})
            cur_thr = s
        w = int(w_sorted[k])
        if w < 0:
            fp += 1
            fp_sum += sw_sorted[k]
        else:
            tp += 1
            if sw_sorted[k] > parts[w]:
                win_total += sw_sorted[k] - parts[w]
                parts[w] = sw_sorted[k]
    total = win_total + fp_sum
    if total > best[1]:
        best = (cur_thr, total, {"tp": tp, "fp": fp})
    return best


def nab_score(series: list[tuple[np.ndarray, list[tuple[int, int]]]], cost: dict[str, float]) -> dict[str, float]:
    """Normalised NAB score of a detector over a corpus: ``series`` = [(scores, windows)] per file."""
    swept, null = [], []
    wid = 0
    n_windows = 0
    for scores, windows in series:
        sweep, window = sweep_file(len(scores), windows, cost, wid)
        wid += len(windows)
        n_windows += len(windows)
        swept.append(SweptFile(np.asarray(scores, dtype=float), sweep, window))
        null.append(SweptFile(np.full(len(scores), 0.5), sweep, window))
    thr, raw, counts = best_threshold(swept, cost)
    _, null_raw, _ = best_threshold(null, cost)
    perfect = n_windows * cost["tpWeight"]
    return {"score": 100 * (raw - null_raw) / (perfect - null_raw), "raw": raw, "null_raw": null_raw,
            "threshold": float(thr), **counts}
