"""Turn the simulator's arrays into domain records (a :class:`~fabmind.domain.FabBatch`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from fabmind.domain import (
    Alarm, Defect, EnergyReading, FabBatch, InjectedFault, Inspection, InspectionResult, Lot, Run, RunTrace,
    WorkOrder, WorkOrderKind, Yield,
)
from fabmind.sim import maintenance as mt
from fabmind.sim.energy import ENERGY_WASTE, BIN_S, tool_energy
from fabmind.sim.faults import FAULT_LIBRARY
from fabmind.sim.physics import step_index
from fabmind.sim.quality import base_defects, defect_table, fault_defects, substrate_yield
from fabmind.sim.recipes import PRODUCTS, RECIPES, ROUTE, domain_products, domain_steps
from fabmind.sim.traces import chamber_arrays

METROLOGY_SLOTS = (1, 6, 11, 16, 21)


def _constructor(cls):
    """A fast ``cls.model_construct`` for records that are valid by construction (what pydantic's
    ``model_construct`` does, without its per-call field introspection)."""
    plain, factories = {}, {}
    for name, f in cls.model_fields.items():
        if f.default_factory is not None:
            factories[name] = f.default_factory
        elif not f.is_required():
            plain[name] = f.default

    def make(**values):
        obj = cls.__new__(cls)
        d = {**plain, **values}
        for name, factory in factories.items():
            if name not in d:
                d[name] = factory()
        object.__setattr__(obj, "__dict__", d)
        object.__setattr__(obj, "__pydantic_fields_set__", set(values))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj

    return make


_NEW = {cls: _constructor(cls) for cls in (Run, RunTrace, Inspection, Yield, Defect, EnergyReading)}
new_defect = _NEW[Defect]  # for fabmind.sim.defect_maps.apply_patterns (defects valid by construction)


def _times(t0, seconds: np.ndarray) -> list:
    """Many timestamps at once (``t0`` + seconds, rounded to ms, timezone UTC)."""
    import pandas as pd

    ms = np.round(np.asarray(seconds, dtype=float) * 1000).astype("int64")
    return list(pd.to_datetime(pd.Timestamp(t0).value // 1_000_000 + ms, unit="ms", utc=True).to_pydatetime())


def build_batch(sim, horizon, pm, faults, waste, down, lots, runs, state):
    """All records of the simulation. High-volume records (runs, traces, inspections, defects, yields,
    energy readings) are built without validation (``_constructor``): they are valid by construction, and the test
    suite re-validates every one of them on the small fab."""
    from fabmind.sim.engine import SimResult, rng_for

    layout = sim.layout
    t0 = sim.start

    def ts(s: float):
        return t0 + timedelta(seconds=round(float(s), 3))

    batch = FabBatch(**layout.plant_records())
    area_of_type = {t.type_id: t.area_id for t in batch.equipment_types}
    from fabmind.sim.equipment import TYPES

    batch.recipes = [r.domain(TYPES[r.type_id].steps) for r in RECIPES.values() if r.type_id in area_of_type]
    batch.steps = domain_steps(area_of_type)
    batch.products = domain_products()
    batch.lots = [Lot(lot_id=lots.lot_ids[i], product_id=lots.products[i], start=ts(lots.release_s[i]),
                      size=int(lots.sizes[i])) for i in range(len(lots.lot_ids))]

    # ---- runs
    chambers = layout.chamber_ids
    sub_offset = np.concatenate([[0], np.cumsum(lots.sizes)])
    sub_ids = [f"{lots.lot_ids[li]}-{s:02d}" for li in range(len(lots.lot_ids)) for s in range(1, lots.sizes[li] + 1)]
    run_sub = sub_offset[runs.lot] + runs.slot - 1
    run_ids = [f"{sub_ids[run_sub[i]]}:{ROUTE[runs.step[i]].step_id}" for i in range(len(runs))]
    starts = _times(t0, runs.start_s)
    ends = _times(t0, runs.end_s)
    params = {rid: r.param_names for rid, r in RECIPES.items()}
    batch.runs = [
        _NEW[Run](run_id=run_ids[i], chamber_id=chambers[runs.chamber[i]], step_id=ROUTE[runs.step[i]].step_id,
            recipe_id=state.recipe[i], lot_id=lots.lot_ids[runs.lot[i]], substrate_id=sub_ids[run_sub[i]],
            start=starts[i], end=ends[i],
            setpoints={k: float(state.setpoints[k][i]) for k in params[state.recipe[i]]})
        for i in range(len(runs))
    ]
    run_faults: dict[str, dict[str, float]] = {}
    for fi, idx, s in state.strengths:
        for i, v in zip(idx, s):
            run_faults.setdefault(run_ids[i], {})[faults[fi].fault_id] = round(float(v), 4)

    # ---- traces
    if sim.traces:
        traces: list = [None] * len(runs)
        for ci, idx, spec, values in chamber_arrays(sim, runs, state, faults):
            si = step_index(spec)
            for k, i in enumerate(idx):
                traces[i] = _NEW[RunTrace](run_id=run_ids[i], chamber_id=chambers[ci], start=starts[i], dt_s=spec.dt_s,
                                     sensors=spec.sensor_names, values=values[k], step_index=si)
        batch.traces = traces

    # ---- quality
    rng = rng_for(sim.seed, "quality")
    sub = layout.substrate
    strengths = []
    for fi, idx, s in state.strengths:
        ft = FAULT_LIBRARY[faults[fi].fault_type]
        strengths.append((idx, s, ft.defect_rate, ft.defect_class, ft.defect_pattern))
    rows, per_run = fault_defects(run_sub, strengths, rng, sub.width_mm, sub.height_mm)
    rows += base_defects(len(sub_ids), rng, sub.width_mm, sub.height_mm)
    finished = ~np.isnan(lots.end_s)
    sub_lot = np.repeat(np.arange(len(lots.lot_ids)), lots.sizes)
    sub_done = finished[sub_lot]
    rows = [r for r in rows if sub_done[r[0]]]
    table = defect_table(rows, rng)
    n_def = np.bincount(table.substrate, minlength=len(sub_ids))
    log_param = np.bincount(run_sub, weights=np.log(np.maximum(state.outcomes["yield_pct"], 1e-3) / 100.0),
                            minlength=len(sub_ids))
    y_sub = substrate_yield(log_param, n_def, rng)

    inspections = []
    meas_noise = rng.normal(0, 1, (len(runs), 2))
    sampled = np.isin(runs.slot, METROLOGY_SLOTS)
    for i in np.nonzero(sampled)[0]:
        r = RECIPES[state.recipe[i]]
        main = float(state.outcomes[r.outcome][i]) * (1 + 0.004 * meas_noise[i, 0])
        second = float(state.outcomes[r.second][i]) * (1 + 0.01 * meas_noise[i, 1])
        step_id = ROUTE[runs.step[i]].step_id
        ok = abs(main - r.target) <= r.tolerance
        inspections.append(_NEW[Inspection](
            inspection_id=f"I-{sub_ids[run_sub[i]]}-{step_id}", substrate_id=sub_ids[run_sub[i]],
            lot_id=lots.lot_ids[runs.lot[i]], step_id=step_id, ts=ts(runs.end_s[i] + 1200),
            defect_count=per_run.get(int(i), 0), result=InspectionResult.PASS if ok else InspectionResult.FAIL,
            measurements={r.outcome: round(main, 4), r.second: round(second, 4)}))
    yields, lot_rows = [], {}
    last_step = [PRODUCTS[p][-1] for p in lots.products]
    for j in np.nonzero(sub_done)[0]:
        li = sub_lot[j]
        last = last_step[li]
        when = ts(lots.end_s[li] + 1800)
        inspections.append(_NEW[Inspection](
            inspection_id=f"I-{sub_ids[j]}-AOI", substrate_id=sub_ids[j], lot_id=lots.lot_ids[li], step_id=last, ts=when,
            defect_count=int(n_def[j]), result=InspectionResult.PASS if y_sub[j] >= 80 else InspectionResult.FAIL,
            measurements={"yield_pct": float(y_sub[j])}))
        yields.append(_NEW[Yield](lot_id=lots.lot_ids[li], substrate_id=sub_ids[j], ts=when, yield_pct=float(y_sub[j])))
        lot_rows.setdefault(li, []).append(y_sub[j])
    yields += [_NEW[Yield](lot_id=lots.lot_ids[li], substrate_id="", ts=ts(lots.end_s[li] + 1800),
                     yield_pct=round(float(np.mean(v)), 3)) for li, v in lot_rows.items()]
    batch.inspections, batch.yields = inspections, yields
    counters: dict[int, int] = {}
    defects = []
    for k in range(len(table.substrate)):
        j = int(table.substrate[k])
        counters[j] = counters.get(j, 0) + 1
        defects.append(_NEW[Defect](defect_id=f"D-{sub_ids[j]}-{counters[j]:03d}", inspection_id=f"I-{sub_ids[j]}-AOI",
                              substrate_id=sub_ids[j], defect_class=table.defect_class[k], x_mm=float(table.x_mm[k]),
                              y_mm=float(table.y_mm[k]), size_um=float(max(table.size_um[k], 0.01))))
    batch.defects = defects

    # ---- maintenance, alarms, faults
    wos = []
    for ch in chambers:
        proc = layout.type_of(ch).process
        desc, action = mt.PM_TEXT[proc]
        for k, (a, b) in enumerate(zip(pm.starts[ch], pm.ends[ch])):
            if 0 <= a < horizon:
                wos.append(WorkOrder(work_order_id=f"WO-PM-{ch.replace('/', '-')}-{k:03d}", equipment_id=ch.split("/")[0],
                                     chamber_id=ch, kind=WorkOrderKind.PM, opened=ts(a), closed=ts(b), description=desc,
                                     action=action, downtime_h=round((b - a) / 3600, 2)))
    injected = []
    for f in faults:
        ft = FAULT_LIBRARY[f.fault_type]
        wo_id = ""
        if f.end_s is not None:
            wo_id = f"WO-CM-{f.fault_id}"
            wos.append(WorkOrder(work_order_id=wo_id, equipment_id=f.chamber_id.split("/")[0], chamber_id=f.chamber_id,
                                 kind=WorkOrderKind.CM, opened=ts(f.end_s), closed=ts(f.end_s + f.cm_hours * 3600),
                                 failure_mode=ft.failure_mode, description=ft.symptom, action=ft.repair,
                                 downtime_h=round(f.cm_hours, 2)))
        injected.append(InjectedFault(fault_id=f.fault_id, fault_type=f.fault_type, chamber_id=f.chamber_id,
                                      start=ts(max(f.start_s, 0.0)), end=None if f.end_s is None else ts(f.end_s),
                                      severity=f.severity, repaired_by=wo_id))
    batch.work_orders = sorted(wos, key=lambda w: (w.opened, w.work_order_id))
    batch.alarms = sorted((Alarm(alarm_id=a, chamber_id=c, ts=ts(t), source="equipment", code=code, severity=sev,
                                 priority="high" if sev >= 3 else "low", message=msg)
                           for a, c, t, code, sev, msg in mt.equipment_alarms(faults, layout, rng_for(sim.seed, "alarms"),
                                                                              horizon)),
                          key=lambda a: (a.ts, a.alarm_id))
    waste_truth = []
    for k, (wt, eq, a, b, sev) in enumerate(waste.items):
        waste_truth.append(InjectedFault(fault_id=f"W-{k + 1:03d}", fault_type=wt, chamber_id=layout.tool(eq).chambers[0],
                                         start=ts(max(a, 0.0)), end=None if b is None else ts(b), severity=sev))
    batch.injected_faults = injected + waste_truth

    # ---- energy
    n_bins = int(horizon // BIN_S)
    fault_kw: dict[str, np.ndarray] = {}
    centers = np.arange(n_bins) * BIN_S + BIN_S / 2
    for f in faults:
        ft = FAULT_LIBRARY[f.fault_type]
        if ft.energy_kw:
            eq = f.chamber_id.split("/")[0]
            fault_kw[eq] = fault_kw.get(eq, np.zeros(n_bins)) + ft.energy_kw * f.strength(centers)
    energy = tool_energy(layout, runs.chamber, runs.start_s, runs.end_s, down, fault_kw, waste, horizon,
                         rng_for(sim.seed, "energy"))
    bin_ts = _times(t0, np.arange(n_bins) * BIN_S)
    batch.energy_readings = [_NEW[EnergyReading](meter_id=m, ts=bin_ts[b], kwh=float(kwh[b]), state=states[b])
                             for m, (kwh, states) in energy.items() for b in range(n_bins)]

    if sim.documents:
        from fabmind.sim.documents import fab_documents

        batch.documents = fab_documents(layout, sim.seed, sim.start)
    assert set(ENERGY_WASTE) >= {w.fault_type for w in waste_truth}
    return SimResult(batch=batch, faults=injected, layout=layout, energy_waste=waste_truth, start=t0,
                     end=ts(horizon), run_faults=run_faults)

