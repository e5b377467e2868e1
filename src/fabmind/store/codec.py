"""Domain records <-> table rows. Column names are the records' field names.

The mapping from record class to table is :data:`TABLE_OF`; :data:`RECORD_OF` is its inverse.

Trace storage: **one row per run, the float32 matrix as one blob** (``traces.values``,
little-endian, C order ``[n_samples, n_sensors]``; ``sensors`` names the columns). Chosen by
measurement (``bench/store.py``, 300 runs x 120 samples x 30 sensors, raw sqlite3 with WAL, on the
shared 2-core machine with load ~5, 2026-11-29):

=========================  ==============  =================  ====================
layout                     write readings/s  bytes per reading  read 1 sensor, 300 runs
=========================  ==============  =================  ====================
one row per run (chosen)       18,100,000         4.57              0.004 s
one row per run x sensor        9,200,000         4.48              0.011 s
narrow (run, sensor, i)           201,000        56.7               0.201 s
=========================  ==============  =================  ====================

The per-run blob writes 2x faster than per run x sensor and 90x faster than a narrow table,
takes 12x less space than narrow (a month of a 36-chamber fab at ~1,000 runs/day each x 3,600
readings is ~0.5 GB instead of ~6 GB), reads a whole run in one row, and even a single sensor
across runs is fastest (slicing a column out of a decoded blob beats an extra index lookup).
Through ``Store.write_traces`` (SQLAlchemy, upsert) the same data goes in at ~18 M readings/s
into SQLite and ~15 M/s into PostgreSQL, against ~60 k/s (SQLite) and ~25 k/s (PostgreSQL) for
``pandas.DataFrame.to_sql`` of the narrow table. Compression was left out: float32 sensor
noise barely compresses (zlib -1 saves ~10 %) and it would cost most of the write speed.
Streaming readings (live connectors) go to the narrow ``readings`` table instead, where each
value is validated and appended as it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

import numpy as np
from sqlalchemy import Table

from fabmind import domain as d
from fabmind.store import schema as s

TABLE_OF: dict[type[d.Record], Table] = {
    d.Site: s.sites,
    d.Area: s.areas,
    d.EquipmentType: s.equipment_types,
    d.Sensor: s.sensors,
    d.Equipment: s.equipment,
    d.Chamber: s.chambers,
    d.Recipe: s.recipes,
    d.Step: s.steps,
    d.Product: s.products,
    d.Lot: s.lots,
    d.Run: s.runs,
    d.RunTrace: s.traces,
    d.Reading: s.readings,
    d.Inspection: s.inspections,
    d.Defect: s.defects,
    d.Yield: s.yields,
    d.WorkOrder: s.work_orders,
    d.Alarm: s.alarms,
    d.EnergyMeter: s.energy_meters,
    d.EnergyReading: s.energy_readings,
    d.Document: s.documents,
    d.InjectedFault: s.injected_faults,
}
RECORD_OF: dict[str, type[d.Record]] = {t.name: cls for cls, t in TABLE_OF.items()}

_TRACE_DTYPE = np.dtype("<f4")
_STEP_DTYPE = np.dtype("u1")


def _plain(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.value
    return v


def to_row(record: d.Record) -> dict[str, Any]:
    """The row of a (non-trace) record: ``model_dump`` with enums as their values."""
    row = record.model_dump(mode="python")
    return {k: _plain(v) for k, v in row.items()}


def from_row(cls: type[d.Record], row: Mapping[str, Any]) -> d.Record:
    """The record of a row; columns the record does not have (e.g. ``position``) are ignored."""
    names = cls.model_fields
    return cls(**{k: v for k, v in row.items() if k in names})


def sensor_rows(sensors: Iterable[d.Sensor]) -> list[dict[str, Any]]:
    """Sensor rows with ``position`` = order of the sensor within its equipment type, as given."""
    seen: dict[str, int] = {}
    rows = []
    for sensor in sensors:
        row = to_row(sensor)
        row["position"] = seen.get(sensor.type_id, 0)
        seen[sensor.type_id] = row["position"] + 1
        rows.append(row)
    return rows


def trace_row(trace: d.RunTrace) -> dict[str, Any]:
    """One row per run: the float32 matrix as one little-endian C-order blob."""
    values = np.ascontiguousarray(trace.values, dtype=_TRACE_DTYPE)
    return {
        "run_id": trace.run_id,
        "chamber_id": trace.chamber_id,
        "start": trace.start,
        "dt_s": float(trace.dt_s),
        "n_samples": int(values.shape[0]),
        "sensors": ",".join(trace.sensors),
        "values": values.tobytes(),
        "step_index": np.ascontiguousarray(trace.step_index, dtype=_STEP_DTYPE).tobytes(),
    }


def trace_from_row(row: Mapping[str, Any]) -> d.RunTrace:
    sensors = tuple(row["sensors"].split(",")) if row["sensors"] else ()
    n = int(row["n_samples"])
    values = np.frombuffer(row["values"], dtype=_TRACE_DTYPE).reshape(n, len(sensors)).astype(np.float32)
    steps = np.frombuffer(row["step_index"], dtype=_STEP_DTYPE).copy()
    return d.RunTrace(
        run_id=row["run_id"], chamber_id=row["chamber_id"], start=row["start"], dt_s=row["dt_s"],
        sensors=sensors, values=values, step_index=steps,
    )
