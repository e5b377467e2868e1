"""Detections map onto domain Alarms with score, limit, top sensors (units + sigmas) and version."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fabmind.domain import Alarm, Sensor
from fabmind.models.anomaly import MSPC, to_alarm, units_of


def test_alarm_carries_score_limit_contributions_and_version(tmp_path):
    rng = np.random.default_rng(0)
    cols = ["RF_FWD.main.mean", "PRESSURE.main.mean", "RF_FWD.main.std"]
    X = pd.DataFrame(rng.normal(size=(300, 3)) * [10, 0.1, 1] + [500, 5, 3], columns=cols)
    model = MSPC(n_components=1).fit(X)
    model.save(tmp_path / "m.pkl")
    bad = X.iloc[:1].copy()
    bad["PRESSURE.main.mean"] += 1.0  # 10 sigma
    det = model.detect(bad)[0]
    units = units_of([Sensor(type_id="DRYETCH-X", name="PRESSURE", unit="Torr", low=0, high=100)])
    alarm = to_alarm(det, "ETCH-01/A", datetime(2026, 1, 2, tzinfo=UTC), run_id="R-7", units=units)
    assert isinstance(alarm, Alarm)
    assert alarm.score == det.score and alarm.limit == 1.0 and alarm.model_version == model.metadata.version
    top = alarm.contributions[0]
    assert (top.sensor, top.feature, top.unit) == ("PRESSURE", "PRESSURE.main.mean", "Torr")
    assert abs(top.deviation - 1.0) < 0.05 and 7 < top.deviation_sigma < 13
    assert alarm.alarm_id == "mspc:ETCH-01/A:R-7" and alarm.severity >= 2
    assert "PRESSURE" in alarm.message
