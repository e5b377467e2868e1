"""Alarm persistence (debounce): raise an alarm only when ``k`` of the last ``n`` readings are over the limit.

A single reading over a control limit is often noise; fab FDC systems and SPC run rules therefore
alarm on persistence (``k`` of the last ``n`` points, e.g. 2 consecutive = 2 of 2). The rule is
causal -- reading ``t`` sees readings ``t-n+1 .. t`` only -- and costs at most ``k - 1`` readings of
detection delay. It also holds an alarm for up to ``n - k`` readings after the last exceedance.

* :func:`k_of_n` -- the rule over a whole series (batch);
* :class:`KOfNStream` -- its streaming twin: ``[s.update(f) for f in flags] == k_of_n(flags, k, n)``.

Example::

    >>> import numpy as np
    >>> k_of_n(np.array([1, 0, 1, 1, 0, 0, 1]), k=2, n=2).astype(int).tolist()
    [0, 0, 0, 1, 0, 0, 0]
    >>> k_of_n(np.array([1, 0, 1, 1, 0, 0, 1]), k=2, n=3).astype(int).tolist()
    [0, 0, 1, 1, 1, 0, 0]
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from fabmind.models.base import ModelError


def _check(k: int, n: int) -> tuple[int, int]:
    if int(k) != k or int(n) != n or not 1 <= k <= n:
        raise ModelError(f"k_of_n: needs integers 1 <= k <= n, got k={k!r}, n={n!r}")
    return int(k), int(n)


def k_of_n(flags: Any, k: int, n: int) -> np.ndarray:
    """Boolean alarms: ``True`` at reading ``t`` when at least ``k`` of readings ``t-n+1 .. t`` are flagged.

    ``flags``: 1-D booleans in time order (e.g. ``model.score(X) >= model.threshold_``; NaN/0 = not
    flagged). The first ``n - 1`` readings see a shorter history (no reading before the series counts).
    ``k = n = 1`` returns the flags unchanged. Apply per series: do not concatenate unrelated runs."""
    k, n = _check(k, n)
    f = np.nan_to_num(np.asarray(flags, dtype=float), nan=0.0).ravel() != 0
    c = np.concatenate([[0], np.cumsum(f)])
    idx = np.arange(1, len(f) + 1)
    return (c[idx] - c[np.maximum(0, idx - n)]) >= k


class KOfNStream:
    """Streaming twin of :func:`k_of_n`: ``update(flag)`` returns the persistent alarm for this reading."""

    def __init__(self, k: int, n: int):
        self.k, self.n = _check(k, n)
        self._window: deque[bool] = deque(maxlen=self.n)
        self._count = 0

    def update(self, flag: Any) -> bool:
        f = bool(flag) and not (isinstance(flag, float) and np.isnan(flag))
        if len(self._window) == self.n:
            self._count -= self._window[0]
        self._window.append(f)
        self._count += f
        return self._count >= self.k

    def reset(self) -> None:
        """Forget the history (a new run / series)."""
        self._window.clear()
        self._count = 0
