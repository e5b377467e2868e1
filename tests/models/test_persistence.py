"""Alarm persistence (k of the last n readings): causal, batch = stream, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.models.anomaly.persistence import KOfNStream, k_of_n
from fabmind.models.base import ModelError


def _brute(flags: np.ndarray, k: int, n: int) -> np.ndarray:
    return np.array([flags[max(0, t - n + 1): t + 1].sum() >= k for t in range(len(flags))])


@pytest.mark.parametrize(("k", "n"), [(1, 1), (2, 2), (2, 3), (3, 5), (5, 5), (1, 4)])
def test_matches_definition_and_stream(k, n):
    flags = np.random.default_rng(k * 10 + n).random(300) < 0.3
    expected = _brute(flags, k, n)
    np.testing.assert_array_equal(k_of_n(flags, k, n), expected)
    s = KOfNStream(k, n)
    np.testing.assert_array_equal([s.update(f) for f in flags], expected)


def test_one_of_one_is_identity_and_isolated_spikes_are_suppressed():
    flags = np.array([0, 1, 0, 0, 1, 0, 1, 1, 1, 0], dtype=bool)
    np.testing.assert_array_equal(k_of_n(flags, 1, 1), flags)
    out = k_of_n(flags, 2, 2)
    assert not out[:7].any()  # isolated exceedances never alarm
    assert out[7] and out[8] and not out[9]  # a sustained one alarms one reading late


def test_causal_future_does_not_change_the_past():
    flags = np.random.default_rng(0).random(200) < 0.4
    a = k_of_n(flags, 3, 5)
    changed = flags.copy()
    changed[120:] = ~changed[120:]
    np.testing.assert_array_equal(k_of_n(changed, 3, 5)[:120], a[:120])


def test_nan_scores_count_as_not_flagged_and_reset():
    np.testing.assert_array_equal(k_of_n([np.nan, 1.0, 1.0], 2, 2), [False, False, True])
    s = KOfNStream(2, 2)
    assert [s.update(x) for x in (np.nan, 1.0, 1.0)] == [False, False, True]
    s.reset()
    assert s.update(True) is False


@pytest.mark.parametrize(("k", "n"), [(0, 3), (4, 3), (1.5, 3), (1, 0)])
def test_bad_parameters(k, n):
    with pytest.raises(ModelError):
        k_of_n([True], k, n)
    with pytest.raises(ModelError):
        KOfNStream(k, n)
