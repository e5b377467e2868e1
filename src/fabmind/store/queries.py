"""Read side of the store: analytical queries as pandas DataFrames, reference data as domain records.

Timestamps come back as ``datetime64[ns, UTC]`` columns; ``start``/``end`` filters are inclusive
of ``start`` and exclusive of ``end`` and accept aware or naive (UTC) datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import JSON, DateTime, Select, String, Table, and_, select, type_coerce

from fabmind import domain as d
from fabmind.store import codec
from fabmind.store import schema as s

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _window(col, start: datetime | None, end: datetime | None) -> list:
    out = []
    if start is not None:
        out.append(col >= start)
    if end is not None:
        out.append(col < end)
    return out


class QueryMixin:
    """Queries shared by :class:`fabmind.store.Store` (needs ``self.engine``)."""

    engine: "Engine"

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _typed_frame(rows: list[dict[str, Any]], columns: Iterable, json_as_text: bool = False) -> pd.DataFrame:
        cols = list(columns.columns if isinstance(columns, Table) else columns)
        names = [c.name for c in cols]
        if rows and not isinstance(rows[0], dict):  # tuples from frame(): build column-wise (fast)
            frame = pd.DataFrame(dict(zip(names, (list(col) for col in zip(*rows)))), columns=names)
        else:
            frame = pd.DataFrame(rows, columns=names)
        for c in cols:
            if isinstance(c.type, s.UtcDateTime):
                values = frame[c.name]
                if values.map(lambda v: isinstance(v, str)).any():  # SQLite: raw ISO text, parsed in one pass
                    values = pd.to_datetime(values, utc=True, format="ISO8601")
                frame[c.name] = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
            elif json_as_text and isinstance(c.type, JSON):
                frame[c.name] = [json.dumps(v) for v in frame[c.name]]
        return frame

    def frame(self, stmt: Select) -> pd.DataFrame:
        """Run a Core ``select`` and return a DataFrame with typed (UTC) timestamp columns.

        Timestamps are fetched raw and converted by pandas in one vectorised pass rather than row by
        row through the column type (measured: 46k-row lot history 5.6 s -> well under 1 s).
        """
        cols = list(stmt.selected_columns)
        raw_type = String() if self.engine.dialect.name == "sqlite" else DateTime(timezone=True)
        raw = [type_coerce(c, raw_type).label(c.name) if isinstance(c.type, s.UtcDateTime) else c for c in cols]
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.with_only_columns(*raw, maintain_column_froms=True)).all()
        return self._typed_frame(rows, cols)

    def table_frame(self, table: str, json_as_text: bool = False) -> pd.DataFrame:
        """A whole table as a DataFrame (for small tables and exports)."""
        t = s.metadata.tables[table]
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(t)).mappings()]
        return self._typed_frame(rows, t, json_as_text=json_as_text)

    def _records(self, cls: type[d.Record], stmt: Select) -> list:
        with self.engine.connect() as conn:
            return [codec.from_row(cls, r) for r in conn.execute(stmt).mappings()]

    # ------------------------------------------------------------------ reference data (records)

    def chambers(self, type_id: str | None = None) -> list[d.Chamber]:
        q = select(s.chambers).order_by(s.chambers.c.chamber_id)
        if type_id is not None:
            q = q.where(s.chambers.c.type_id == type_id)
        return self._records(d.Chamber, q)

    def chamber(self, chamber_id: str) -> d.Chamber:
        found = self._records(d.Chamber, select(s.chambers).where(s.chambers.c.chamber_id == chamber_id))
        if not found:
            raise KeyError(f"no chamber {chamber_id!r} in the store")
        return found[0]

    def sensors(self, type_id: str) -> list[d.Sensor]:
        """The sensors of an equipment type, in the order they were written."""
        c = s.sensors.c
        return self._records(d.Sensor, select(s.sensors).where(c.type_id == type_id).order_by(c.position, c.name))

    def sensors_of_chamber(self, chamber_id: str) -> list[d.Sensor]:
        return self.sensors(self.chamber(chamber_id).type_id)

    def equipment(self, area_id: str | None = None) -> list[d.Equipment]:
        q = select(s.equipment).order_by(s.equipment.c.equipment_id)
        if area_id is not None:
            q = q.where(s.equipment.c.area_id == area_id)
        return self._records(d.Equipment, q)

    def equipment_types(self) -> list[d.EquipmentType]:
        return self._records(d.EquipmentType, select(s.equipment_types).order_by(s.equipment_types.c.type_id))

    def recipes(self, type_id: str | None = None) -> list[d.Recipe]:
        q = select(s.recipes).order_by(s.recipes.c.recipe_id)
        if type_id is not None:
            q = q.where(s.recipes.c.type_id == type_id)
        return self._records(d.Recipe, q)

    def steps(self) -> list[d.Step]:
        return self._records(d.Step, select(s.steps).order_by(s.steps.c.seq, s.steps.c.step_id))

    def products(self) -> list[d.Product]:
        return self._records(d.Product, select(s.products).order_by(s.products.c.product_id))

    def documents(self, kind: str | None = None, type_id: str | None = None) -> list[d.Document]:
        q = select(s.documents).order_by(s.documents.c.doc_id)
        if kind is not None:
            q = q.where(s.documents.c.kind == str(kind))
        if type_id is not None:
            q = q.where(s.documents.c.type_id == type_id)
        return self._records(d.Document, q)

    def energy_meters(self, equipment_id: str | None = None) -> list[d.EnergyMeter]:
        q = select(s.energy_meters).order_by(s.energy_meters.c.meter_id)
        if equipment_id is not None:
            q = q.where(s.energy_meters.c.equipment_id == equipment_id)
        return self._records(d.EnergyMeter, q)

    def chambers_frame(self) -> pd.DataFrame:
        """chamber_id, equipment_id, type_id, area_id, process: one row per chamber."""
        ch, eq, et = s.chambers, s.equipment, s.equipment_types
        q = (
            select(ch.c.chamber_id, ch.c.equipment_id, ch.c.type_id, eq.c.area_id, et.c.process)
            .select_from(ch.outerjoin(eq, eq.c.equipment_id == ch.c.equipment_id)
                         .outerjoin(et, et.c.type_id == ch.c.type_id))
            .order_by(ch.c.chamber_id)
        )  # fmt: skip
        return self.frame(q)

    # ------------------------------------------------------------------ runs and traces

    def _runs_query(self, chamber_id, start, end, step_id, lot_id) -> Select:
        r = s.runs.c
        cond = _window(r.start, start, end)
        if chamber_id is not None:
            cond.append(r.chamber_id == chamber_id)
        if step_id is not None:
            cond.append(r.step_id == step_id)
        if lot_id is not None:
            cond.append(r.lot_id == lot_id)
        return select(s.runs).where(and_(True, *cond)).order_by(r.start, r.run_id)

    def runs(self, chamber_id: str | None = None, start: datetime | None = None, end: datetime | None = None,
             step_id: str | None = None, lot_id: str | None = None) -> pd.DataFrame:
        """Runs (one row each, ``equipment_id`` added), filtered and ordered by start."""
        frame = self.frame(self._runs_query(chamber_id, start, end, step_id, lot_id))
        frame.insert(2, "equipment_id", frame["chamber_id"].str.split("/").str[0])
        return frame

    def run_records(self, chamber_id: str | None = None, start: datetime | None = None,
                    end: datetime | None = None, step_id: str | None = None,
                    lot_id: str | None = None) -> list[d.Run]:
        return self._records(d.Run, self._runs_query(chamber_id, start, end, step_id, lot_id))

    def traces(self, run_ids: Sequence[str]) -> dict[str, d.RunTrace]:
        """The traces of the given runs (runs without a trace are absent from the result)."""
        out: dict[str, d.RunTrace] = {}
        ids = list(dict.fromkeys(run_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = select(s.traces).where(s.traces.c.run_id.in_(ids[i : i + 500]))
                for row in conn.execute(q).mappings():
                    out[row["run_id"]] = codec.trace_from_row(row)
        return {rid: out[rid] for rid in ids if rid in out}

    def iter_traces(self, chamber_id: str | None = None, start: datetime | None = None,
                    end: datetime | None = None, batch: int = 500) -> Iterator[d.RunTrace]:
        """Traces of a chamber (or all) in a window, in start order, read ``batch`` at a time."""
        t = s.traces.c
        cond = _window(t.start, start, end)
        if chamber_id is not None:
            cond.append(t.chamber_id == chamber_id)
        q = select(s.traces).where(and_(True, *cond)).order_by(t.start, t.run_id)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(q)
            for row in result.mappings():
                yield codec.trace_from_row(row)

    def runs_with_traces(self, chamber_id: str, start: datetime | None = None,
                         end: datetime | None = None) -> list[tuple[d.Run, d.RunTrace | None]]:
        """Runs of a chamber in a window, each with its trace (None if no trace was stored)."""
        runs = self.run_records(chamber_id=chamber_id, start=start, end=end)
        traces = self.traces([r.run_id for r in runs])
        return [(r, traces.get(r.run_id)) for r in runs]

    # ------------------------------------------------------------------ lots, quality

    def lot_history(self, start: datetime | None = None, end: datetime | None = None,
                    lot_id: str | None = None) -> pd.DataFrame:
        """One row per run: lot_id, substrate_id, product_id, step_id, seq, chamber_id, equipment_id,
        recipe_id, start, end, substrate ``yield_pct`` and ``lot_yield_pct`` (NaN when not known)."""
        r, lo, st = s.runs, s.lots, s.steps
        ys, yl = s.yields.alias("ys"), s.yields.alias("yl")
        q = (
            select(r.c.run_id, r.c.lot_id, r.c.substrate_id, lo.c.product_id, r.c.step_id, st.c.seq,
                   r.c.chamber_id, r.c.recipe_id, r.c.start, r.c.end,
                   ys.c.yield_pct.label("yield_pct"), yl.c.yield_pct.label("lot_yield_pct"))
            .select_from(
                r.outerjoin(lo, lo.c.lot_id == r.c.lot_id)
                .outerjoin(st, st.c.step_id == r.c.step_id)
                .outerjoin(ys, and_(ys.c.lot_id == r.c.lot_id, ys.c.substrate_id == r.c.substrate_id))
                .outerjoin(yl, and_(yl.c.lot_id == r.c.lot_id, yl.c.substrate_id == ""))
            )
            .where(and_(True, *_window(r.c.start, start, end)))
            .order_by(r.c.lot_id, r.c.substrate_id, st.c.seq, r.c.start)
        )  # fmt: skip
        if lot_id is not None:
            q = q.where(r.c.lot_id == lot_id)
        frame = self.frame(q)
        frame.insert(7, "equipment_id", frame["chamber_id"].str.split("/").str[0])
        return frame

    def yields(self, start: datetime | None = None, end: datetime | None = None,
               per_substrate: bool = False) -> pd.DataFrame:
        """Lot yields (``per_substrate=False``) or glass/wafer yields, with the lot's product_id."""
        y, lo = s.yields, s.lots
        q = (
            select(y.c.lot_id, y.c.substrate_id, lo.c.product_id, y.c.ts, y.c.yield_pct)
            .select_from(y.outerjoin(lo, lo.c.lot_id == y.c.lot_id))
            .where(and_(y.c.substrate_id != "" if per_substrate else y.c.substrate_id == "",
                        *_window(y.c.ts, start, end)))
            .order_by(y.c.ts, y.c.lot_id, y.c.substrate_id)
        )  # fmt: skip
        return self.frame(q)

    def inspections(self, start: datetime | None = None, end: datetime | None = None,
                    lot_id: str | None = None, step_id: str | None = None) -> pd.DataFrame:
        """Inspections; each key of ``measurements`` becomes a column of its own."""
        i = s.inspections.c
        cond = _window(i.ts, start, end)
        if lot_id is not None:
            cond.append(i.lot_id == lot_id)
        if step_id is not None:
            cond.append(i.step_id == step_id)
        frame = self.frame(select(s.inspections).where(and_(True, *cond)).order_by(i.ts, i.inspection_id))
        measured = pd.DataFrame(list(frame.pop("measurements")), index=frame.index)
        return pd.concat([frame, measured.drop(columns=[c for c in measured if c in frame])], axis=1)

    def defects(self, defect_class: str | None = None, start: datetime | None = None,
                end: datetime | None = None, lot_id: str | None = None) -> pd.DataFrame:
        """Defects with their inspection's lot_id, step_id and ts (the window filters on ts)."""
        df, ins = s.defects, s.inspections
        q = (
            select(df, ins.c.lot_id, ins.c.step_id, ins.c.ts)
            .select_from(df.outerjoin(ins, ins.c.inspection_id == df.c.inspection_id))
            .where(and_(True, *_window(ins.c.ts, start, end)))
            .order_by(ins.c.ts, df.c.defect_id)
        )
        if defect_class is not None:
            q = q.where(df.c.defect_class == defect_class)
        if lot_id is not None:
            q = q.where(ins.c.lot_id == lot_id)
        return self.frame(q)

    # ------------------------------------------------------------------ maintenance, energy, alarms

    def work_orders(self, equipment_id: str | None = None, chamber_id: str | None = None,
                    kind: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> pd.DataFrame:
        """Work orders; ``chamber_id`` also matches tool-level orders of that chamber's tool (chamber_id NULL)."""
        w = s.work_orders.c
        cond = _window(w.opened, start, end)
        if equipment_id is not None:
            cond.append(w.equipment_id == equipment_id)
        if chamber_id is not None:
            cond.append((w.chamber_id == chamber_id)
                        | (w.chamber_id.is_(None) & (w.equipment_id == d.tool_of(chamber_id))))
        if kind is not None:
            cond.append(w.kind == str(kind))
        return self.frame(select(s.work_orders).where(and_(True, *cond)).order_by(w.opened, w.work_order_id))

    def energy(self, meter_id: str | None = None, start: datetime | None = None, end: datetime | None = None,
               equipment_id: str | None = None) -> pd.DataFrame:
        """Energy readings with their meter's equipment_id, kind and unit."""
        e, m = s.energy_readings, s.energy_meters
        q = (
            select(e.c.meter_id, m.c.equipment_id, m.c.kind, m.c.unit, e.c.ts, e.c.kwh, e.c.state)
            .select_from(e.outerjoin(m, m.c.meter_id == e.c.meter_id))
            .where(and_(True, *_window(e.c.ts, start, end)))
            .order_by(e.c.meter_id, e.c.ts)
        )
        if meter_id is not None:
            q = q.where(e.c.meter_id == meter_id)
        if equipment_id is not None:
            q = q.where(m.c.equipment_id == equipment_id)
        return self.frame(q)

    def _alarms_query(self, chamber_id, state, start, end) -> Select:
        a = s.alarms.c
        cond = _window(a.ts, start, end)
        if chamber_id is not None:
            cond.append(a.chamber_id == chamber_id)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            cond.append(a.state.in_([str(x) for x in states]))
        return select(s.alarms).where(and_(True, *cond)).order_by(a.ts, a.alarm_id)

    def alarms(self, chamber_id: str | None = None, state: str | Sequence[str] | None = None,
               start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        return self.frame(self._alarms_query(chamber_id, state, start, end))

    def alarm_records(self, chamber_id: str | None = None, state: str | Sequence[str] | None = None,
                      start: datetime | None = None, end: datetime | None = None) -> list[d.Alarm]:
        return self._records(d.Alarm, self._alarms_query(chamber_id, state, start, end))

    def injected_faults(self, chamber_id: str | None = None) -> pd.DataFrame:
        f = s.injected_faults.c
        q = select(s.injected_faults).order_by(f.start, f.fault_id)
        if chamber_id is not None:
            q = q.where(f.chamber_id == chamber_id)
        return self.frame(q)

    def readings(self, chamber_id: str | None = None, sensor: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Streaming readings (narrow), ordered by chamber, sensor, ts."""
        r = s.readings.c
        cond = _window(r.ts, start, end)
        if chamber_id is not None:
            cond.append(r.chamber_id == chamber_id)
        if sensor is not None:
            cond.append(r.sensor == sensor)
        return self.frame(select(s.readings).where(and_(True, *cond)).order_by(r.chamber_id, r.sensor, r.ts))

    def quarantined(self, source: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Rejected records: id, source, kind, code, reason, payload, received."""
        q = select(s.quarantine).order_by(s.quarantine.c.id)
        if source is not None:
            q = q.where(s.quarantine.c.source == source)
        if kind is not None:
            q = q.where(s.quarantine.c.kind == kind)
        return self.frame(q)
