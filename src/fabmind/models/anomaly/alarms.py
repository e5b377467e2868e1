"""From detections to :class:`fabmind.domain.Alarm` records (what the monitor stores and the agents cite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from fabmind.domain import Alarm, Contribution, Sensor
from fabmind.models.anomaly.base import Detection


def sensor_of(feature: str) -> str:
    """``'RF_FWD.main.mean' -> 'RF_FWD'``: FDC indicator names start with the sensor name."""
    return feature.split(".", 1)[0]


def sensor_contributions(contribs) -> list[tuple]:
    """Group feature contributions by sensor: ``[(strongest feature contribution, summed share)]``, largest first.

    Context columns (``SP.<parameter>`` setpoints, ``PM.age_days``) are not sensors: a deliberate
    setpoint is never reported as the cause of an alarm.
    """
    from fabmind.models.anomaly.adjusted import is_context

    best: dict[str, object] = {}
    total: dict[str, float] = {}
    for c in contribs:
        if is_context(c.feature):
            continue
        s = sensor_of(c.feature)
        total[s] = total.get(s, 0.0) + float(c.contribution)
        if s not in best or abs(c.contribution) > abs(best[s].contribution):
            best[s] = c
    return sorted(((best[s], total[s]) for s in best), key=lambda t: -t[1])


def units_of(sensors: Sequence[Sensor]) -> dict[str, str]:
    return {s.name: s.unit for s in sensors}


def to_alarm(
    detection: Detection,
    chamber_id: str,
    ts: datetime,
    *,
    run_id: str | None = None,
    units: Mapping[str, str] | None = None,
    source: str | None = None,
    code: str = "FDC-MSPC",
    top: int = 3,
    rerank: int = 3,
) -> Alarm:
    """One :class:`Alarm` from one :class:`Detection`, with its ``top`` contributing sensors.

    A sensor's contribution is the sum of the shares of all its features (``RF.main.mean``,
    ``RF.main.std`` ...); its value/expected/deviation are those of its strongest feature. The first
    ``rerank`` sensors by contribution are ordered by |deviation in sigmas| (``rerank=1``: pure
    contribution order). Each carries the deviation in the sensor's unit (``value - expected``) and in
    training sigmas. Severity grows with how far the score is over the limit (x1, x2, x4, x8).
    """
    units = units or {}
    contribs = []
    ranked = sensor_contributions(detection.contributions)
    if rerank > 1:
        # Contributions smear over sensors that were correlated in training (few runs, shared
        # setpoints). Of the short-list that explains most of the statistic, the sensor furthest
        # from its own normal (in sigmas) leads: measured on bench/fdc_sim.py (top-1 0.875 -> 0.94).
        head = sorted(ranked[:rerank], key=lambda t: -abs(t[0].deviation_sigma) if np.isfinite(t[0].deviation_sigma)
                      else 0.0)
        ranked = head + ranked[rerank:]
    for c, share in ranked[:top]:
        sensor = sensor_of(c.feature)
        contribs.append(
            Contribution(
                sensor=sensor,
                feature=c.feature,
                contribution=float(share),
                value=float(c.value),
                expected=float(c.expected),
                deviation=float(c.value - c.expected),
                deviation_sigma=float(c.deviation_sigma) if np.isfinite(c.deviation_sigma) else 0.0,
                unit=units.get(sensor, ""),
            )
        )
    ratio = detection.severity_ratio
    severity = 1 if ratio < 2 else 2 if ratio < 4 else 3 if ratio < 8 else 4
    source = source or detection.statistic
    key = run_id or ts.strftime("%Y%m%dT%H%M%S")
    top = ", ".join(f"{c.sensor} {c.deviation_sigma:+.1f}σ" for c in contribs[:3])
    return Alarm(
        alarm_id=f"{source}:{chamber_id}:{key}",
        chamber_id=chamber_id,
        ts=ts,
        source=source,
        code=code,
        severity=severity,
        priority={1: "low", 2: "medium", 3: "high", 4: "critical"}[severity],
        score=float(detection.score),
        limit=float(detection.limit),
        run_id=run_id,
        model_version=detection.model_version,
        message=f"{source} score {detection.score:.3g} over limit {detection.limit:.3g}; top sensors: {top}",
        contributions=tuple(contribs),
    )
