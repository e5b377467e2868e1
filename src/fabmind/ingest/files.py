"""File import: CSV / Parquet exports of MES, FDC and QMS systems and maintenance work orders.

Each *kind* maps file columns onto a domain record. The default mapping uses the record's
field names; a plant maps its own export with a JSON file ``{kind: {field: column}}``
(e.g. ``{"lots": {"lot_id": "LOT_ID", "start": "START_TIME"}}``) — see :data:`DEFAULT_MAPPINGS`.

=============  =========================  ==============================================
kind           record                     natural key (a replayed file changes nothing)
=============  =========================  ==============================================
lots           MES lots                   lot_id
steps          MES route steps            step_id
runs           MES runs (process jobs)    run_id
readings       FDC traces, long format    (chamber_id, sensor, ts)
inspections    QMS inspections            inspection_id
defects        QMS defects                defect_id
yields         QMS yields                 (lot_id, substrate_id)
work_orders    maintenance work orders    work_order_id
=============  =========================  ==============================================

Every row becomes a record or a quarantine entry naming the row, the field and the reason.
Records are upserted by natural key, readings go through the live validator and the
idempotent sink, so importing the same file twice stores nothing twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fabmind import domain
from fabmind.ingest.records import IngestReport, QuarantineItem
from fabmind.ingest.sink import ReadingSink, quarantine_items

RECORDS: dict[str, type[domain.Record]] = {
    "lots": domain.Lot,
    "steps": domain.Step,
    "runs": domain.Run,
    "inspections": domain.Inspection,
    "defects": domain.Defect,
    "yields": domain.Yield,
    "work_orders": domain.WorkOrder,
}
KINDS = (*RECORDS, "readings")
READING_FIELDS = ("chamber_id", "sensor", "ts", "value", "run_id")
JSON_FIELDS = {"setpoints", "measurements"}  # dict-valued fields arrive as JSON text in a CSV

DEFAULT_MAPPINGS: dict[str, dict[str, str]] = {
    **{kind: {f: f for f in rec.model_fields} for kind, rec in RECORDS.items()},
    "readings": {f: f for f in READING_FIELDS},
}


@dataclass
class FileImport:
    """What one import did: counts per outcome and the reasons for rejections."""

    path: str
    kind: str
    rows: int = 0
    stored: int = 0  # records upserted (or new readings)
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reconciled(self) -> bool:
        return self.rows == self.stored + self.quarantined


def load_mapping(path: str | Path | None) -> dict[str, dict[str, str]]:
    """Default mapping overridden per kind and field by a plant's JSON file."""
    mapping = {k: dict(v) for k, v in DEFAULT_MAPPINGS.items()}
    if path:
        custom = json.loads(Path(path).read_text())
        for kind, fields in custom.items():
            if kind not in mapping:
                raise ValueError(f"column mapping {path}: unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
            unknown = set(fields) - set(mapping[kind])
            if unknown:
                raise ValueError(f"column mapping {path}: kind {kind!r} has no field(s) {sorted(unknown)}")
            mapping[kind].update(fields)
    return mapping


def read_table(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if p.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(p)
    if p.suffix.lower() in {".csv", ".txt"}:
        return pd.read_csv(p, dtype=str, keep_default_na=False)
    raise ValueError(f"{p}: unsupported file type {p.suffix!r} (use .csv or .parquet)")


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == ""):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def import_file(
    store: Any,
    path: str | Path,
    kind: str,
    *,
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    catalog: Any = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = 5000,
) -> FileImport:
    """Import one file of ``kind`` into ``store``; ``progress(done, total)`` is called per chunk."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    cols = (mapping or DEFAULT_MAPPINGS)[kind]
    df = read_table(path)
    source = f"file:{Path(path).name}"
    result = FileImport(str(path), kind, rows=len(df))
    missing = [c for f, c in cols.items() if c not in df.columns and f in _required(kind)]
    if missing:
        raise ValueError(f"{path}: kind {kind!r} needs column(s) {missing} (map your export's names with --mapping)")
    if kind == "readings":
        _import_readings(store, df, cols, source, result, catalog, progress, chunk_rows)
        return result
    record_type = RECORDS[kind]
    present = {f: c for f, c in cols.items() if c in df.columns}
    for start in range(0, len(df), chunk_rows):
        part = df.iloc[start : start + chunk_rows]
        good: list[domain.Record] = []
        bad: list[QuarantineItem] = []
        for i, row in zip(range(start, start + len(part)), part[list(present.values())].itertuples(index=False)):
            data = {f: _clean(v) for f, v in zip(present, row)}
            data = {f: v for f, v in data.items() if v is not None}
            try:
                for f in JSON_FIELDS & data.keys():
                    if isinstance(data[f], str):
                        data[f] = json.loads(data[f])
                good.append(record_type(**data))
            except (domain.DomainError, ValueError, TypeError) as exc:
                bad.append(QuarantineItem(source, kind, f"invalid: row {i + 2}: {exc}",
                                          QuarantineItem.clip({k: str(v) for k, v in data.items()}), 1))
        if good:
            store.upsert(good)
        if bad:
            rep = quarantine_items(store.engine, bad)
            result.reasons["invalid"] = result.reasons.get("invalid", 0) + rep.quarantined
        result.stored += len(good)
        result.quarantined += len(bad)
        if progress:
            progress(min(start + chunk_rows, len(df)), len(df))
    return result


def _required(kind: str) -> set[str]:
    if kind == "readings":
        return {"chamber_id", "sensor", "ts", "value"}
    return {f for f, info in RECORDS[kind].model_fields.items() if info.is_required()}


def _import_readings(store, df, cols, source, result, catalog, progress, chunk_rows) -> None:
    from fabmind.ingest.catalog import SensorCatalog
    from fabmind.ingest.validate import TraceValidator

    catalog = catalog or SensorCatalog.from_store(store)
    validator = TraceValidator(catalog, max_lateness_s=float("inf"))
    sink = ReadingSink(store.engine)
    frame = pd.DataFrame({f: df[c] if c in df.columns else None for f, c in cols.items()})
    ts = pd.to_datetime(frame["ts"], utc=True, errors="coerce", format="mixed")
    frame["ts_s"] = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["run_id"] = frame["run_id"].where(frame["run_id"].astype(str).str.len() > 0, None)
    frame = frame.reset_index(names="row")
    groups = frame.groupby(["chamber_id", "sensor", frame["run_id"].fillna("")], sort=True, dropna=False)
    total, done, report = len(frame), 0, IngestReport(source)
    file_key = f"{Path(result.path).name}"
    batch = []
    for (chamber_id, sensor, run_id), g in groups:
        g = g.sort_values("ts_s", kind="stable")
        ts_list = [None if not np.isfinite(t) else t for t in g["ts_s"].tolist()]
        vals = [[None if not np.isfinite(v) else v] for v in g["value"].tolist()]
        key = f"{file_key}:{chamber_id}:{sensor}:{run_id}:{int(g['row'].iloc[0])}"
        batch.append(validator.validate_columns(source, key, str(chamber_id), [str(sensor)], ts_list, vals,
                                                run_id or None))
        done += len(g)
        if sum(m.n_received for m in batch) >= chunk_rows:
            rep, _ = sink.write(batch)
            validator.commit()
            report.add(rep)
            batch = []
            if progress:
                progress(done, total)
    if batch:
        rep, _ = sink.write(batch)
        validator.commit()
        report.add(rep)
    if progress:
        progress(total, total)
    result.stored, result.quarantined, result.reasons = report.stored, report.quarantined, report.reasons
