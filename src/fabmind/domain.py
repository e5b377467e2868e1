"""The fab's vocabulary as typed records.

Every record has a *natural id* in the fab's own words (``ETCH-03``, ``ETCH-03/B``,
``L240101-007``), so that a replayed export or message maps onto the same row.
Validation errors name the field and the bad value::

    >>> from fabmind.domain import Chamber
    >>> Chamber(chamber_id="ETCH-03/B", equipment_id="ETCH-03", type_id="DRYETCH-X").chamber_id
    'ETCH-03/B'
    >>> try:
    ...     Chamber(chamber_id="etch 3b", equipment_id="ETCH-03", type_id="DRYETCH-X")
    ... except DomainError as e:
    ...     print(e)
    Chamber.chamber_id: bad value 'etch 3b': must look like 'ETCH-03/B' (tool id, '/', chamber letter)

Sensor traces are carried as :class:`RunTrace` records holding a ``numpy`` matrix,
one per run (samples x sensors); :class:`Reading` is the single-value
streaming twin used by live connectors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# --------------------------------------------------------------------------- errors


class DomainError(ValueError):
    """A record failed validation. ``field`` and ``value`` name the culprit."""

    def __init__(self, record: str, field: str, value: Any, reason: str):
        self.record, self.field, self.value, self.reason = record, field, value, reason
        super().__init__(f"{record}.{field}: bad value {value!r}: {reason}")


class InvalidReading(DomainError):
    """A sensor value that cannot be stored: unknown sensor, out of range, NaN, out of order."""

    def __init__(self, sensor: str, value: Any, reason: str, chamber_id: str | None = None):
        self.sensor, self.chamber_id = sensor, chamber_id
        where = f"{chamber_id}:{sensor}" if chamber_id else sensor
        super().__init__("Reading", "value", value, f"{reason} (sensor {where})")


# --------------------------------------------------------------------------- natural ids

_TOOL_RE = re.compile(r"^[A-Z][A-Z0-9]*-\d{2,3}$")
_CHAMBER_RE = re.compile(r"^[A-Z][A-Z0-9]*-\d{2,3}/[A-Z0-9]{1,3}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,95}$")


class _IdError(ValueError):
    pass


def _check_tool(v: str) -> str:
    if not _TOOL_RE.match(v):
        raise _IdError("must look like 'ETCH-03' (upper-case type code, '-', 2-3 digits)")
    return v


def _check_chamber(v: str) -> str:
    if not _CHAMBER_RE.match(v):
        raise _IdError("must look like 'ETCH-03/B' (tool id, '/', chamber letter)")
    return v


def _check_id(v: str) -> str:
    if not _ID_RE.match(v):
        raise _IdError("ids are 1-96 characters of letters, digits and _ . : / - and start alphanumeric")
    return v


ToolId = Annotated[str, AfterValidator(_check_tool)]
ChamberId = Annotated[str, AfterValidator(_check_chamber)]
NaturalId = Annotated[str, AfterValidator(_check_id)]


def tool_of(chamber_id: str) -> str:
    """``'ETCH-03/B' -> 'ETCH-03'``."""
    return chamber_id.split("/", 1)[0]


def utc(ts: datetime) -> datetime:
    """Naive timestamps are taken as UTC; aware ones are converted to UTC."""
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


# --------------------------------------------------------------------------- base


class Record(BaseModel):
    """Base of every domain record: strict-ish, immutable, errors naming field and value."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    key: ClassVar[tuple[str, ...]] = ()  # natural key fields, used by the store for upserts

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(record)"
            msg = err["msg"]
            if err.get("ctx", {}).get("error") is not None:
                msg = str(err["ctx"]["error"])
            msg = msg.removeprefix("Value error, ")
            raise DomainError(type(self).__name__, field, err.get("input"), msg) from None

    def natural_key(self) -> tuple:
        return tuple(getattr(self, k) for k in self.key)


Finite = Annotated[float, Field(allow_inf_nan=False)]

# --------------------------------------------------------------------------- plant


class Site(Record):
    key: ClassVar = ("site_id",)
    site_id: NaturalId
    name: str


class Area(Record):
    key: ClassVar = ("area_id",)
    area_id: NaturalId
    site_id: NaturalId
    name: str


class Sensor(Record):
    """A chamber sensor with its unit and physically valid range (readings outside are rejected)."""

    key: ClassVar = ("type_id", "name")
    type_id: NaturalId
    name: NaturalId
    unit: str
    low: Finite
    high: Finite
    subsystem: str = "chamber"
    description: str = ""

    @model_validator(mode="after")
    def _range(self) -> "Sensor":
        if self.low >= self.high:
            raise ValueError(f"valid range low={self.low} must be below high={self.high}")
        return self

    def check(self, value: float, chamber_id: str | None = None) -> float:
        """Return ``value`` or raise :class:`InvalidReading` naming why it cannot be stored."""
        if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidReading(self.name, value, "not a number", chamber_id)
        if not math.isfinite(value):
            raise InvalidReading(self.name, value, "NaN or infinite", chamber_id)
        if value < self.low or value > self.high:
            raise InvalidReading(
                self.name, value, f"outside valid range {self.low:g}..{self.high:g} {self.unit}", chamber_id
            )
        return float(value)


class EquipmentType(Record):
    """A tool model, e.g. ``PECVD-X``: its chambers share the sensor list."""

    key: ClassVar = ("type_id",)
    type_id: NaturalId
    area_id: NaturalId
    name: str
    process: str  # cvd, etch, photo ...


class Equipment(Record):
    key: ClassVar = ("equipment_id",)
    equipment_id: ToolId
    area_id: NaturalId
    type_id: NaturalId
    name: str = ""


class Chamber(Record):
    key: ClassVar = ("chamber_id",)
    chamber_id: ChamberId
    equipment_id: ToolId
    type_id: NaturalId

    @model_validator(mode="after")
    def _belongs(self) -> "Chamber":
        if tool_of(self.chamber_id) != self.equipment_id:
            raise ValueError(f"chamber {self.chamber_id} is not on tool {self.equipment_id}")
        return self


class RecipeParameter(Record):
    name: NaturalId
    unit: str
    default: Finite
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _limits(self) -> "RecipeParameter":
        if not (self.low <= self.default <= self.high):
            raise ValueError(f"default {self.default} outside limits {self.low}..{self.high}")
        return self


class Recipe(Record):
    key: ClassVar = ("recipe_id",)
    recipe_id: NaturalId
    type_id: NaturalId
    steps: tuple[str, ...] = ("main",)  # recipe steps (stabilise, main, over-etch ...)
    parameters: tuple[RecipeParameter, ...] = ()

    def parameter(self, name: str) -> RecipeParameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"recipe {self.recipe_id} has no parameter {name!r}")


class Step(Record):
    """One operation of a product's route, done on tools of one equipment type."""

    key: ClassVar = ("step_id",)
    step_id: NaturalId
    seq: int = Field(ge=0)
    area_id: NaturalId
    type_id: NaturalId
    recipe_id: NaturalId
    name: str = ""


class Product(Record):
    key: ClassVar = ("product_id",)
    product_id: NaturalId
    name: str
    route: tuple[NaturalId, ...]  # step ids in order


class Lot(Record):
    key: ClassVar = ("lot_id",)
    lot_id: NaturalId
    product_id: NaturalId
    start: datetime
    size: int = Field(ge=1, le=50)


class Run(Record):
    """One glass/wafer through one chamber at one step with one recipe."""

    key: ClassVar = ("run_id",)
    run_id: NaturalId
    chamber_id: ChamberId
    step_id: NaturalId
    recipe_id: NaturalId
    lot_id: NaturalId
    substrate_id: NaturalId
    start: datetime
    end: datetime
    setpoints: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order(self) -> "Run":
        if self.end < self.start:
            raise ValueError(f"run ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def equipment_id(self) -> str:
        return tool_of(self.chamber_id)


class Reading(Record):
    """One sensor value (streaming). ``run_id`` is set when the value belongs to a run."""

    key: ClassVar = ("chamber_id", "sensor", "ts")
    chamber_id: ChamberId
    sensor: NaturalId
    ts: datetime
    value: float
    run_id: NaturalId | None = None


class RunTrace(Record):
    """All sensor values of one run: ``values[i, j]`` is sensor ``sensors[j]`` at ``start + i*dt_s``.

    One record per run (not per value) keeps months of traces compact; ``step_index[i]`` is
    the recipe step (index into the recipe's ``steps``) of sample ``i``.
    """

    key: ClassVar = ("run_id",)
    run_id: NaturalId
    chamber_id: ChamberId
    start: datetime
    dt_s: float = Field(gt=0)
    sensors: tuple[str, ...]
    values: np.ndarray  # float32 [n_samples, n_sensors]
    step_index: np.ndarray  # uint8 [n_samples]

    @model_validator(mode="after")
    def _shape(self) -> "RunTrace":
        v = np.asarray(self.values)
        if v.ndim != 2 or v.shape[1] != len(self.sensors) or v.shape[0] == 0:
            raise ValueError(f"values shape {v.shape} does not match {len(self.sensors)} sensors x n>0 samples")
        if np.asarray(self.step_index).shape != (v.shape[0],):
            raise ValueError("step_index must have one entry per sample")
        if not np.isfinite(v).all():
            i, j = np.argwhere(~np.isfinite(v))[0]
            raise ValueError(f"sample {i} of sensor {self.sensors[j]} is NaN or infinite")
        return self


class InspectionResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class Inspection(Record):
    key: ClassVar = ("inspection_id",)
    inspection_id: NaturalId
    substrate_id: NaturalId
    lot_id: NaturalId
    step_id: NaturalId
    ts: datetime
    defect_count: int = Field(ge=0)
    result: InspectionResult
    measurements: dict[str, float] = Field(default_factory=dict)  # thickness, CD ...


class Defect(Record):
    key: ClassVar = ("defect_id",)
    defect_id: NaturalId
    inspection_id: NaturalId
    substrate_id: NaturalId
    defect_class: NaturalId
    x_mm: Finite
    y_mm: Finite
    size_um: Finite = Field(default=1.0, gt=0)


class Yield(Record):
    """Final yield of a lot (``substrate_id`` empty) or of one glass/wafer."""

    key: ClassVar = ("lot_id", "substrate_id")
    lot_id: NaturalId
    substrate_id: str = ""
    ts: datetime
    yield_pct: Finite = Field(ge=0, le=100)


class WorkOrderKind(StrEnum):
    PM = "pm"  # preventive maintenance
    CM = "cm"  # corrective maintenance (repair after a fault)
    INSPECT = "inspect"


class WorkOrder(Record):
    """A maintenance event on a tool or chamber: preventive (PM) or corrective (CM)."""

    key: ClassVar = ("work_order_id",)
    work_order_id: NaturalId
    equipment_id: ToolId
    chamber_id: ChamberId | None = None
    kind: WorkOrderKind
    opened: datetime
    closed: datetime | None = None
    failure_mode: str = ""
    description: str = ""
    action: str = ""
    downtime_h: Finite = Field(default=0.0, ge=0)


MaintenanceEvent = WorkOrder


class AlarmState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"
    CLEARED = "cleared"


class Contribution(Record):
    """How much one sensor (feature) drove a model output, and how far it is from normal."""

    sensor: str
    feature: str
    contribution: float  # share of the statistic (0..1) or raw contribution
    value: float
    expected: float
    deviation: float  # value - expected, in the sensor's unit
    deviation_sigma: float
    unit: str = ""


class Alarm(Record):
    key: ClassVar = ("alarm_id",)
    alarm_id: NaturalId
    chamber_id: ChamberId
    ts: datetime
    source: str  # model family / statistic, e.g. 'mspc.t2'
    code: str = ""
    severity: int = Field(default=2, ge=1, le=4)
    priority: str = "medium"
    state: AlarmState = AlarmState.RAISED
    score: float = 0.0
    limit: float = 0.0
    run_id: str | None = None
    model_version: str = ""
    message: str = ""
    contributions: tuple[Contribution, ...] = ()


class EnergyMeter(Record):
    key: ClassVar = ("meter_id",)
    meter_id: NaturalId
    equipment_id: ToolId
    kind: str = "electric"  # electric, cda, n2, pcw ...
    unit: str = "kWh"


class EnergyReading(Record):
    key: ClassVar = ("meter_id", "ts")
    meter_id: NaturalId
    ts: datetime
    kwh: Finite = Field(ge=0)
    state: str = ""  # producing / idle / down, when known


class DocumentKind(StrEnum):
    MANUAL = "manual"
    SOP = "sop"
    FMEA = "fmea"
    TICKET = "ticket"
    OTHER = "other"


class Document(Record):
    key: ClassVar = ("doc_id",)
    doc_id: NaturalId
    title: str
    kind: DocumentKind
    format: str = "md"  # md, txt, html, pdf, csv, xlsx
    type_id: str = ""  # equipment type the document is about, if any
    content: str
    source: str = ""


class InjectedFault(Record):
    """Ground truth of the simulator: a fault injected into a chamber."""

    key: ClassVar = ("fault_id",)
    fault_id: NaturalId
    fault_type: NaturalId
    chamber_id: ChamberId
    start: datetime
    end: datetime | None = None
    severity: Finite = Field(gt=0, le=1)
    repaired_by: str = ""  # work order id that ended it


class Quarantined(Record):
    """A record that was rejected at the boundary, kept with its raw payload and the reason."""

    source: str
    kind: str
    reason: str
    payload: str
    received: datetime


@dataclass
class FabBatch:
    """A bundle of records of every kind, e.g. what the simulator produces or a file import yields.

    The store writes a batch with :meth:`fabmind.store.Store.write_batch`; attribute names are the
    store's table names.
    """

    sites: list[Site] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)
    equipment_types: list[EquipmentType] = field(default_factory=list)
    sensors: list[Sensor] = field(default_factory=list)
    equipment: list[Equipment] = field(default_factory=list)
    chambers: list[Chamber] = field(default_factory=list)
    recipes: list[Recipe] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    lots: list[Lot] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    traces: list[RunTrace] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    yields: list[Yield] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    energy_meters: list[EnergyMeter] = field(default_factory=list)
    energy_readings: list[EnergyReading] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    injected_faults: list[InjectedFault] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}
