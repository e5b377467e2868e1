"""A tiny, hand-built fab (every record kind) for the store tests; independent of the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from fabmind import domain as d

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
TYPE = "DRYETCH-X"
SENSORS = ("PRESSURE", "RF_FWD", "RF_REFL")
CHAMBERS = ("ETCH-01/A", "ETCH-01/B")


def trace(run_id: str, chamber_id: str, start: datetime, n: int = 60, seed: int = 0) -> d.RunTrace:
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=(n, len(SENSORS))) * [1, 20, 2] + [50, 1500, 10]).astype(np.float32)
    steps = np.repeat(np.arange(3, dtype=np.uint8), -(-n // 3))[:n]
    return d.RunTrace(run_id=run_id, chamber_id=chamber_id, start=start, dt_s=1.0, sensors=SENSORS,
                      values=values, step_index=steps)


def small_batch(n_lots: int = 2, wafers: int = 3) -> d.FabBatch:
    b = d.FabBatch()
    b.sites.append(d.Site(site_id="FAB1", name="Fab one"))
    b.areas.append(d.Area(area_id="ETCH", site_id="FAB1", name="Dry etch"))
    b.equipment_types.append(d.EquipmentType(type_id=TYPE, area_id="ETCH", name="Etcher X", process="etch"))
    b.sensors += [
        d.Sensor(type_id=TYPE, name="PRESSURE", unit="mTorr", low=0, high=200),
        d.Sensor(type_id=TYPE, name="RF_FWD", unit="W", low=0, high=3000, subsystem="rf"),
        d.Sensor(type_id=TYPE, name="RF_REFL", unit="W", low=0, high=300, subsystem="rf"),
    ]
    b.equipment.append(d.Equipment(equipment_id="ETCH-01", area_id="ETCH", type_id=TYPE, name="Etcher 1"))
    b.chambers += [d.Chamber(chamber_id=c, equipment_id="ETCH-01", type_id=TYPE) for c in CHAMBERS]
    b.recipes.append(d.Recipe(
        recipe_id="R-ETCH-1", type_id=TYPE, steps=("stabilise", "main", "overetch"),
        parameters=(d.RecipeParameter(name="RF_FWD", unit="W", default=1500, low=1200, high=1800),),
    ))
    b.steps += [
        d.Step(step_id="S10-ETCH", seq=10, area_id="ETCH", type_id=TYPE, recipe_id="R-ETCH-1", name="gate etch"),
        d.Step(step_id="S20-ETCH", seq=20, area_id="ETCH", type_id=TYPE, recipe_id="R-ETCH-1", name="via etch"),
    ]
    b.products.append(d.Product(product_id="P1", name="Panel 1", route=("S10-ETCH", "S20-ETCH")))
    t = T0
    for li in range(n_lots):
        lot = f"L{li:03d}"
        b.lots.append(d.Lot(lot_id=lot, product_id="P1", start=T0 + timedelta(hours=li), size=wafers))
        for wi in range(wafers):
            sub = f"{lot}-{wi:02d}"
            for step in ("S10-ETCH", "S20-ETCH"):
                chamber = CHAMBERS[(li + wi) % 2]
                run_id = f"{sub}-{step}"
                b.runs.append(d.Run(run_id=run_id, chamber_id=chamber, step_id=step, recipe_id="R-ETCH-1",
                                    lot_id=lot, substrate_id=sub, start=t, end=t + timedelta(seconds=60),
                                    setpoints={"RF_FWD": 1500.0}))
                b.traces.append(trace(run_id, chamber, t, seed=len(b.traces)))
                t += timedelta(minutes=2)
            insp = f"I-{sub}"
            b.inspections.append(d.Inspection(
                inspection_id=insp, substrate_id=sub, lot_id=lot, step_id="S20-ETCH", ts=t, defect_count=wi,
                result="fail" if wi == 2 else "pass", measurements={"cd_nm": 45.0 + wi, "thickness_nm": 300.0},
            ))
            for k in range(wi):
                b.defects.append(d.Defect(defect_id=f"D-{sub}-{k}", inspection_id=insp, substrate_id=sub,
                                          defect_class="particle" if k == 0 else "scratch", x_mm=1.0 + k, y_mm=2.0))
            b.yields.append(d.Yield(lot_id=lot, substrate_id=sub, ts=t, yield_pct=100.0 - 5 * wi))
        b.yields.append(d.Yield(lot_id=lot, ts=t, yield_pct=95.0 - li))
    b.work_orders += [
        d.WorkOrder(work_order_id="WO-1", equipment_id="ETCH-01", chamber_id="ETCH-01/A", kind="pm", opened=T0,
                    closed=T0 + timedelta(hours=2), description="wet clean", downtime_h=2.0),
        d.WorkOrder(work_order_id="WO-2", equipment_id="ETCH-01", kind="cm", opened=T0 + timedelta(hours=3),
                    failure_mode="rf match degradation", action="replace match capacitor", downtime_h=4.5),
    ]
    b.alarms.append(d.Alarm(
        alarm_id="A-1", chamber_id="ETCH-01/B", ts=T0 + timedelta(minutes=30), source="mspc.t2", score=12.5,
        limit=9.0, run_id=b.runs[1].run_id, message="T2 above limit",
        contributions=(d.Contribution(sensor="RF_REFL", feature="RF_REFL.main.mean", contribution=0.7, value=30.0,
                                      expected=10.0, deviation=20.0, deviation_sigma=6.0, unit="W"),),
    ))
    b.energy_meters.append(d.EnergyMeter(meter_id="M-ETCH-01", equipment_id="ETCH-01"))
    b.energy_readings += [
        d.EnergyReading(meter_id="M-ETCH-01", ts=T0 + timedelta(minutes=15 * i), kwh=3.0 + i, state="producing")
        for i in range(8)
    ]
    b.documents += [
        d.Document(doc_id="MAN-DRYETCH-X", title="Etcher X manual", kind="manual", type_id=TYPE,
                   content="# RF\nE-RF-101 reflected power high"),
        d.Document(doc_id="FMEA-DRYETCH-X", title="FMEA", kind="fmea", format="csv", type_id=TYPE,
                   content="equipment_type,subsystem\nDRYETCH-X,rf"),
    ]
    b.injected_faults.append(d.InjectedFault(fault_id="F-1", fault_type="rf_match_degradation",
                                             chamber_id="ETCH-01/B", start=T0 + timedelta(minutes=20),
                                             severity=0.6, repaired_by="WO-2"))
    return b
