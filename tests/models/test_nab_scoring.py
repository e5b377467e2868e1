"""The NAB scoring re-implementation (bench/_nab_scoring.py) follows NAB's rules."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _nab_scoring import nab_score, scaled_sigmoid

from fabmind.models.anomaly.univariate import RangeZDetector

STANDARD = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}
LOW_FN = {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11}


def _corpus(detect_at: list[int]) -> list:
    s = np.zeros(1000)
    s[detect_at] = 1.0
    return [(s, [(400, 499), (700, 799)])]


def test_sigmoid_anchor_values_from_nab():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.0) == -1.0


@pytest.mark.parametrize("cost", [STANDARD, LOW_FN])
def test_perfect_is_100_null_is_0(cost):
    assert nab_score(_corpus([400, 700]), cost)["score"] == pytest.approx(100.0)
    assert nab_score([(np.zeros(1000), [(400, 499), (700, 799)])], cost)["score"] == pytest.approx(0.0)


def test_early_beats_late_and_only_first_detection_counts():
    early = nab_score(_corpus([410, 710]), STANDARD)["score"]
    late = nab_score(_corpus([490, 790]), STANDARD)["score"]
    repeated = nab_score(_corpus([410, 420, 430, 710]), STANDARD)["score"]
    assert early > late > 0 and repeated == pytest.approx(early)


def test_false_positive_costs_more_far_from_a_window():
    near = nab_score(_corpus([400, 700, 505]), STANDARD)["raw"]
    far = nab_score(_corpus([400, 700, 950]), STANDARD)["raw"]
    assert near > far
    probation = nab_score(_corpus([400, 700, 10]), STANDARD)["raw"]  # first 15 % are not scored
    assert probation == pytest.approx(nab_score(_corpus([400, 700]), STANDARD)["raw"])


def test_range_detector_stream_equals_series_and_finds_a_spike():
    x = np.random.default_rng(0).normal(size=1200).cumsum()
    x[900] += 40
    d = RangeZDetector(probation=150)
    series = d.score_series(x)
    d.reset()
    np.testing.assert_allclose([d.update(v) for v in x], series, atol=1e-9)
    assert int(np.argmax(series)) == 900 and (series[:150] == 0).all()
