"""Validation of streaming readings before they reach the ``readings`` table.

Every reading is either stored or quarantined with a reason, in the same transaction
(never half-written). Reasons (``IngestReport.reasons`` keys and the quarantine ``code``):

==================  ==========================================================================
``malformed``       not a Reading (missing/extra field, bad chamber id, value not a number ...)
``unknown_chamber`` the chamber is not in the store
``unknown_sensor``  the chamber's equipment type has no sensor of that name
``not_finite``      NaN or infinite value
``out_of_range``    outside the sensor's valid range (``Sensor.low .. Sensor.high``)
``duplicate``       the same (chamber, sensor, timestamp) is already stored or came twice
``out_of_order``    older than the newest reading stored (or accepted) for that chamber x sensor
==================  ==========================================================================
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from fabmind.domain import DomainError, InvalidReading, Reading, Sensor, utc
from fabmind.store import schema as s

REASONS = (
    "malformed", "unknown_chamber", "unknown_sensor", "not_finite", "out_of_range", "duplicate", "out_of_order",
)  # fmt: skip


@dataclass(frozen=True)
class IngestReport:
    """What happened to a batch of readings: every one received is stored or quarantined."""

    source: str
    received: int
    stored: int
    quarantined: int
    reasons: Counter = field(default_factory=Counter)  # reason code -> count

    def __post_init__(self) -> None:
        if self.received != self.stored + self.quarantined:
            raise AssertionError(f"ingest lost records: {self.received} != {self.stored} + {self.quarantined}")


@dataclass
class _Rejected:
    payload: str
    code: str
    reason: str


def _payload(raw: Any) -> str:
    if isinstance(raw, Reading):
        return raw.model_dump_json()
    try:
        return json.dumps(raw, default=str, allow_nan=True)
    except (TypeError, ValueError):
        return repr(raw)


def _parse(raw: Any) -> Reading:
    if isinstance(raw, Reading):
        return raw
    if not isinstance(raw, Mapping):
        raise DomainError("Reading", "(record)", raw, f"expected a Reading or a mapping, got {type(raw).__name__}")
    return Reading(**raw)


def _sensor_map(conn: Connection, chamber_ids: set[str]) -> dict[str, dict[str, Sensor]]:
    """chamber_id -> {sensor name: Sensor} for the chambers that exist."""
    out: dict[str, dict[str, Sensor]] = {}
    ids = sorted(chamber_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows = conn.execute(select(s.chambers.c.chamber_id, s.chambers.c.type_id).where(s.chambers.c.chamber_id.in_(chunk)))
        for chamber_id, _type in rows:
            out[chamber_id] = {}
        q = (
            select(s.chambers.c.chamber_id, s.sensors)
            .join(s.sensors, s.sensors.c.type_id == s.chambers.c.type_id)
            .where(s.chambers.c.chamber_id.in_(chunk))
        )
        for row in conn.execute(q).mappings():
            sensor = Sensor(**{k: row[k] for k in Sensor.model_fields})
            out[row["chamber_id"]][sensor.name] = sensor
    return out


def _last_stored(conn: Connection, chamber_ids: set[str]) -> dict[tuple[str, str], datetime]:
    r = s.readings.c
    out: dict[tuple[str, str], datetime] = {}
    ids = sorted(chamber_ids)
    for i in range(0, len(ids), 500):
        q = select(r.chamber_id, r.sensor, func.max(r.ts)).where(r.chamber_id.in_(ids[i : i + 500]))
        for chamber_id, sensor, ts in conn.execute(q.group_by(r.chamber_id, r.sensor)):
            out[(chamber_id, sensor)] = s.UtcDateTime().process_result_value(ts, conn.dialect)
    return out


def _existing(conn: Connection, keys: list[tuple[str, str, datetime]]) -> set[tuple[str, str, datetime]]:
    r = s.readings.c
    found: set[tuple[str, str, datetime]] = set()
    for i in range(0, len(keys), 300):
        chunk = keys[i : i + 300]
        q = select(r.chamber_id, r.sensor, r.ts).where(tuple_(r.chamber_id, r.sensor, r.ts).in_(chunk))
        found.update((c, n, t) for c, n, t in conn.execute(q))
    return found


def validate_readings(
    conn: Connection, raw_readings: Iterable[Any]
) -> tuple[list[dict[str, Any]], list[_Rejected]]:
    """Split readings into rows to insert and rejections, reading the store through ``conn``."""
    parsed: list[tuple[Any, Reading | None]] = []
    rejected: list[_Rejected] = []
    for raw in raw_readings:
        try:
            parsed.append((raw, _parse(raw)))
        except DomainError as exc:
            rejected.append(_Rejected(_payload(raw), "malformed", str(exc)))
        except Exception as exc:  # e.g. Reading(**raw) with non-string keys
            rejected.append(_Rejected(_payload(raw), "malformed", f"Reading: {exc}"))
    chamber_ids = {rd.chamber_id for _, rd in parsed}
    sensors = _sensor_map(conn, chamber_ids)
    last = _last_stored(conn, set(sensors))
    accepted: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    late: list[tuple[Any, Reading, tuple[str, str, datetime]]] = []
    for raw, rd in parsed:
        chamber_sensors = sensors.get(rd.chamber_id)
        if chamber_sensors is None:
            rejected.append(_Rejected(_payload(raw), "unknown_chamber", f"chamber {rd.chamber_id} is not in the store"))
            continue
        sensor = chamber_sensors.get(rd.sensor)
        if sensor is None:
            rejected.append(_Rejected(
                _payload(raw), "unknown_sensor", f"chamber {rd.chamber_id} has no sensor {rd.sensor!r}"
            ))
            continue
        if not math.isfinite(rd.value):
            rejected.append(_Rejected(
                _payload(raw), "not_finite", str(InvalidReading(rd.sensor, rd.value, "NaN or infinite", rd.chamber_id))
            ))
            continue
        try:
            value = sensor.check(rd.value, rd.chamber_id)
        except InvalidReading as exc:
            rejected.append(_Rejected(_payload(raw), "out_of_range", str(exc)))
            continue
        ts = utc(rd.ts)
        key = (rd.chamber_id, rd.sensor, ts)
        newest = last.get(key[:2])
        if newest is not None and ts <= newest:
            late.append((raw, rd, key))
            continue
        last[key[:2]] = ts
        accepted[key] = {"chamber_id": rd.chamber_id, "sensor": rd.sensor, "ts": ts, "value": value, "run_id": rd.run_id}
    # late readings: a replay of one already stored (or accepted) is a duplicate, otherwise out of order
    stored = _existing(conn, [k for _, _, k in late if k not in accepted])
    for raw, rd, key in late:
        newest = last[key[:2]]
        if key in accepted or key in stored:
            rejected.append(_Rejected(
                _payload(raw), "duplicate", f"duplicate reading: {rd.chamber_id}:{rd.sensor} at {key[2].isoformat()} "
                "is already stored"
            ))
        else:
            rejected.append(_Rejected(
                _payload(raw), "out_of_order", f"out of order: {rd.chamber_id}:{rd.sensor} at {key[2].isoformat()} "
                f"is older than the newest stored reading ({newest.isoformat()})"
            ))
    return list(accepted.values()), rejected


def quarantine_rows(source: str, kind: str, rejected: list[_Rejected]) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    return [
        {"source": source, "kind": kind, "code": r.code, "reason": r.reason, "payload": r.payload, "received": now}
        for r in rejected
    ]
