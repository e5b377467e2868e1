"""Setpoint/PM-adjusted MSPC: a deliberate recipe change is no alarm, a fault is, named by its sensor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fabmind.models.anomaly import AdjustedMSPC, fit_response, to_alarm
from fabmind.models.base import FeatureSchemaError


def _runs(rng, n, doe_every=8, fault=0.0):
    sp_p = 100 + rng.normal(0, 1, n)
    sp_p[::doe_every] += rng.normal(0, 15, len(sp_p[::doe_every]))  # designed-experiment runs
    age = np.arange(n) % 40 / 4.0  # days since PM (PM every 10 days)
    press = sp_p + rng.normal(0, 0.2, n)
    throttle = 30 + 0.3 * sp_p + 0.5 * age + rng.normal(0, 0.2, n)  # drifts between PMs
    temp = 50 + rng.normal(0, 0.1, n) + fault
    return pd.DataFrame({"PRESS.main.mean": press, "THROTTLE.main.mean": throttle, "TEMP.main.mean": temp,
                         "SP.PRESSURE": sp_p, "PM.age_days": age})


@pytest.fixture(scope="module")
def model():
    return AdjustedMSPC(confidence=0.999).fit(_runs(np.random.default_rng(1), 300))


def test_setpoint_changes_and_pm_drift_do_not_alarm(model):
    test = _runs(np.random.default_rng(2), 400, doe_every=3)
    assert np.mean(model.predict(test)) < 0.03
    # the previous pipeline (setpoints as monitored features) alarms on the designed-experiment runs
    from fabmind.models.anomaly import MSPC

    plain = MSPC(confidence=0.999, limits="cv").fit(_runs(np.random.default_rng(1), 300))
    assert np.mean(plain.predict(test)) > np.mean(model.predict(test))


def test_fault_alarms_and_names_the_real_sensor(model):
    bad = _runs(np.random.default_rng(3), 20, fault=1.5)  # TEMP 15 sigma up
    assert model.predict(bad).all()
    det = model.detect(bad, top=None)[0]
    feats = [c.feature for c in det.contributions]
    assert feats[0] == "TEMP.main.mean" and not any(f.startswith(("SP.", "PM.")) for f in feats)
    top = det.contributions[0]
    assert abs(top.expected - 50) < 0.1 and 10 < top.deviation_sigma < 20
    alarm = to_alarm(det, "CVD-01/A", pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(), units={"TEMP": "°C"})
    assert alarm.contributions[0].sensor == "TEMP" and alarm.contributions[0].unit == "°C"


def test_expectation_follows_the_setpoint(model):
    doe = _runs(np.random.default_rng(4), 5)
    doe["SP.PRESSURE"] = 130.0
    doe["PRESS.main.mean"] = 130.0
    exp = model.expected(doe)
    assert np.allclose(exp["PRESS.main.mean"], 130.0, atol=1.0)


def test_pooled_response_and_schema(model):
    rng = np.random.default_rng(5)
    a, b = _runs(rng, 200), _runs(rng, 200)
    b[["PRESS.main.mean", "THROTTLE.main.mean"]] += 5.0  # another chamber: offset only
    resp = fit_response(pd.concat([a, b]), groups=["A"] * 200 + ["B"] * 200)
    coef = dict(zip(resp.context, resp.coef[:, 0] / resp.c_scale))  # PRESS per unit of context
    assert abs(coef["SP.PRESSURE"] - 1.0) < 0.05
    m = AdjustedMSPC().fit(b, response=resp)
    assert np.mean(m.predict(_runs(rng, 200).assign(**{"PRESS.main.mean": lambda d: d["PRESS.main.mean"] + 5,
                                                    "THROTTLE.main.mean": lambda d: d["THROTTLE.main.mean"] + 5}))) < 0.05
    with pytest.raises(FeatureSchemaError):
        model.score(a.drop(columns=["SP.PRESSURE"]))
    # without PM dates the model still scores (the drift is then not expected)
    assert len(model.score(a.drop(columns=["PM.age_days"]))) == 200
