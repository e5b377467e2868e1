"""Table definitions (SQLAlchemy Core). All tables hang on one ``metadata``.

The core tables (Alembic revision ``0001``) mirror the records of :mod:`fabmind.domain`:
a table's name is the :class:`~fabmind.domain.FabBatch` attribute, its columns are the record's
fields and its primary key is the record's natural key (``Record.key``), so an upsert replayed
twice changes nothing. Other rooms define their tables in their own modules on the same
``metadata`` and create them in their own numbered revision (see ``migrations/versions``).

Rules for the schema:

- no foreign keys: records arrive from many sources in any order (a run may arrive before its
  lot); references are checked at the boundary (ingest), and nothing is lost meanwhile;
- every timestamp is a :class:`UtcDateTime` (aware UTC in, aware UTC out, on both dialects);
- once a revision is released, its tables change only through a new revision.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC: naive values are taken as UTC, results are always aware UTC.

    PostgreSQL stores ``timestamptz``; SQLite stores the naive UTC ISO text, which sorts correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


ID = 96  # natural ids are at most 96 characters (domain._ID_RE)


def _id(name: str, primary_key: bool = False, nullable: bool = False) -> Column:
    return Column(name, String(ID), primary_key=primary_key, nullable=nullable and not primary_key)


# --------------------------------------------------------------------------- plant

sites = Table("sites", metadata, _id("site_id", True), Column("name", Text, nullable=False))

areas = Table(
    "areas", metadata, _id("area_id", True), _id("site_id"), Column("name", Text, nullable=False)
)

equipment_types = Table(
    "equipment_types",
    metadata,
    _id("type_id", True),
    _id("area_id"),
    Column("name", Text, nullable=False),
    Column("process", String(32), nullable=False),
)

sensors = Table(
    "sensors",
    metadata,
    _id("type_id", True),
    _id("name", True),
    Column("unit", String(32), nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("subsystem", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("position", Integer, nullable=False, default=0),  # order within the type (as written)
)

equipment = Table(
    "equipment",
    metadata,
    _id("equipment_id", True),
    _id("area_id"),
    _id("type_id"),
    Column("name", Text, nullable=False),
)

chambers = Table(
    "chambers", metadata, _id("chamber_id", True), _id("equipment_id"), _id("type_id"),
    Index("ix_chambers_type", "type_id"),
)

recipes = Table(
    "recipes",
    metadata,
    _id("recipe_id", True),
    _id("type_id"),
    Column("steps", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
)

steps = Table(
    "steps",
    metadata,
    _id("step_id", True),
    Column("seq", Integer, nullable=False),
    _id("area_id"),
    _id("type_id"),
    _id("recipe_id"),
    Column("name", Text, nullable=False),
)

products = Table(
    "products", metadata, _id("product_id", True), Column("name", Text, nullable=False),
    Column("route", JSON, nullable=False),
)

# --------------------------------------------------------------------------- production

lots = Table(
    "lots",
    metadata,
    _id("lot_id", True),
    _id("product_id"),
    Column("start", UtcDateTime, nullable=False),
    Column("size", Integer, nullable=False),
    Index("ix_lots_start", "start"),
)

runs = Table(
    "runs",
    metadata,
    _id("run_id", True),
    _id("chamber_id"),
    _id("step_id"),
    _id("recipe_id"),
    _id("lot_id"),
    _id("substrate_id"),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("setpoints", JSON, nullable=False),
    Index("ix_runs_chamber_start", "chamber_id", "start"),
    Index("ix_runs_lot", "lot_id"),
    Index("ix_runs_start", "start"),
)

# One row per run, the float32 matrix as one blob: see fabmind.store.traces for the measurement.
traces = Table(
    "traces",
    metadata,
    _id("run_id", True),
    _id("chamber_id"),
    Column("start", UtcDateTime, nullable=False),
    Column("dt_s", Float, nullable=False),
    Column("n_samples", Integer, nullable=False),
    Column("sensors", Text, nullable=False),  # comma-separated (natural ids have no commas)
    Column("values", LargeBinary, nullable=False),  # little-endian float32, C order [n_samples, n_sensors]
    Column("step_index", LargeBinary, nullable=False),  # uint8 [n_samples]
    Index("ix_traces_chamber_start", "chamber_id", "start"),
)

# Streaming readings (live connectors), narrow: one row per value. Run traces live in `traces`.
readings = Table(
    "readings",
    metadata,
    _id("chamber_id", True),
    _id("sensor", True),
    Column("ts", UtcDateTime, primary_key=True),
    Column("value", Float, nullable=False),
    _id("run_id", nullable=True),
)

inspections = Table(
    "inspections",
    metadata,
    _id("inspection_id", True),
    _id("substrate_id"),
    _id("lot_id"),
    _id("step_id"),
    Column("ts", UtcDateTime, nullable=False),
    Column("defect_count", Integer, nullable=False),
    Column("result", String(16), nullable=False),
    Column("measurements", JSON, nullable=False),
    Index("ix_inspections_ts", "ts"),
    Index("ix_inspections_lot", "lot_id"),
)

defects = Table(
    "defects",
    metadata,
    _id("defect_id", True),
    _id("inspection_id"),
    _id("substrate_id"),
    _id("defect_class"),
    Column("x_mm", Float, nullable=False),
    Column("y_mm", Float, nullable=False),
    Column("size_um", Float, nullable=False),
    Index("ix_defects_class", "defect_class"),
    Index("ix_defects_inspection", "inspection_id"),
)

yields = Table(
    "yields",
    metadata,
    _id("lot_id", True),
    Column("substrate_id", String(ID), primary_key=True),  # '' = the lot's yield
    Column("ts", UtcDateTime, nullable=False),
    Column("yield_pct", Float, nullable=False),
    Index("ix_yields_ts", "ts"),
)

work_orders = Table(
    "work_orders",
    metadata,
    _id("work_order_id", True),
    _id("equipment_id"),
    _id("chamber_id", nullable=True),
    Column("kind", String(16), nullable=False),
    Column("opened", UtcDateTime, nullable=False),
    Column("closed", UtcDateTime, nullable=True),
    Column("failure_mode", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("downtime_h", Float, nullable=False),
    Index("ix_work_orders_equipment", "equipment_id", "opened"),
    Index("ix_work_orders_chamber", "chamber_id", "opened"),
)

alarms = Table(
    "alarms",
    metadata,
    _id("alarm_id", True),
    _id("chamber_id"),
    Column("ts", UtcDateTime, nullable=False),
    Column("source", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("limit", Float, nullable=False),
    _id("run_id", nullable=True),
    Column("model_version", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("contributions", JSON, nullable=False),
    Index("ix_alarms_chamber_ts", "chamber_id", "ts"),
    Index("ix_alarms_state", "state"),
)

energy_meters = Table(
    "energy_meters",
    metadata,
    _id("meter_id", True),
    _id("equipment_id"),
    Column("kind", String(32), nullable=False),
    Column("unit", String(16), nullable=False),
)

energy_readings = Table(
    "energy_readings",
    metadata,
    _id("meter_id", True),
    Column("ts", UtcDateTime, primary_key=True),
    Column("kwh", Float, nullable=False),
    Column("state", String(16), nullable=False),
)

documents = Table(
    "documents",
    metadata,
    _id("doc_id", True),
    Column("title", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("type_id", String(ID), nullable=False),
    Column("content", Text, nullable=False),
    Column("source", Text, nullable=False),
)

injected_faults = Table(
    "injected_faults",
    metadata,
    _id("fault_id", True),
    _id("fault_type"),
    _id("chamber_id"),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=True),
    Column("severity", Float, nullable=False),
    Column("repaired_by", String(ID), nullable=False),
)

# Every rejected record, with its raw payload, where it came from and why.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("code", String(32), nullable=False),  # machine-readable reason: out_of_range, duplicate ...
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("received", UtcDateTime, nullable=False),
    Index("ix_quarantine_source", "source", "received"),
)

CORE_TABLES: tuple[Table, ...] = (
    sites, areas, equipment_types, sensors, equipment, chambers, recipes, steps, products,
    lots, runs, traces, readings, inspections, defects, yields, work_orders, alarms,
    energy_meters, energy_readings, documents, injected_faults, quarantine,
)  # fmt: skip
"""Tables created by revision 0001, in creation order."""
