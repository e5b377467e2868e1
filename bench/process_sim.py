"""Process optimisation and run-to-run control on the simulator's ground truth.

Setpoint recommendation: the demo fab is simulated (healthy, 90 days); for each of its 9 recipes a
response surface (linear + squared terms, Bayesian ridge) of the glasses' final yield is fitted on
the stored runs, one row per lot step (mean setpoints, days since the chamber's PM, mean glass
yield; 12 % of lot steps are designed experiments with wide setpoints, the rest jitter around the
default) and searched with optuna inside the recipe limits and the data's range. The recommendation is
scored in the simulator's noise-free response (:func:`fabmind.sim.process.response`, chamber just
after PM, no fault):

* ``yield_gain``: step yield at the recommendation minus at the recipe default (points, mean over
  recipes); ``yield_gain_share`` the same as a share of the gain the true optimum would give;
* ``route_yield_gain``: the same for the whole 9-step route (product of the step yields);
* ``distance_to_optimum``: Euclidean distance from the recommendation to the true optimum, each
  parameter in units of its limit span (mean over recipes; the default's distance beside it).

Baseline in the same run: "copy the best runs" — the mean setpoints of the 5 % best-yielding lot steps.

Run-to-run control: the CVD-SIN-GI thickness, with the chamber ageing between weekly PMs and a
SiH4 MFC drift fault in the middle, controlled through the SiH4 flow (gain fitted by least squares
on the stored inspections, not taken from the simulator). ``r2r_variance_reduction`` = 1 - mean
squared deviation from target with the double-EWMA controller / with the setpoint held;
``r2r_us_per_adjustment`` = microseconds per controller adjustment.

Run: ``.venv/bin/python bench/process_sim.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.process import ProcessSurrogate, recommend_setpoints
from fabmind.models.process_data import PM_AGE, process_frame
from fabmind.models.r2r import DoubleEWMAController, EWMAController, run_closed_loop
from fabmind.sim import simulate
from fabmind.sim.process import ChamberState, default_setpoints, optimum, response
from fabmind.sim.recipes import RECIPES


def frames(batch) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    runs = pd.DataFrame(
        {
            "run_id": [r.run_id for r in batch.runs],
            "lot_id": [r.lot_id for r in batch.runs],
            "substrate_id": [r.substrate_id for r in batch.runs],
            "step_id": [r.step_id for r in batch.runs],
            "chamber_id": [r.chamber_id for r in batch.runs],
            "recipe_id": [r.recipe_id for r in batch.runs],
            "start": pd.to_datetime([r.start for r in batch.runs], utc=True),
            "setpoints": [r.setpoints for r in batch.runs],
        }
    )
    ys = [y for y in batch.yields if y.substrate_id]
    yields = pd.DataFrame(
        {
            "lot_id": [y.lot_id for y in ys],
            "substrate_id": [y.substrate_id for y in ys],
            "yield_pct": [y.yield_pct for y in ys],
        }
    )
    insp = pd.DataFrame(
        [
            {"lot_id": i.lot_id, "substrate_id": i.substrate_id, "step_id": i.step_id, **i.measurements}
            for i in batch.inspections
        ]
    )
    wo = pd.DataFrame(
        [
            {
                "work_order_id": w.work_order_id,
                "chamber_id": w.chamber_id,
                "kind": str(w.kind),
                "opened": w.opened,
                "closed": w.closed,
            }
            for w in batch.work_orders
        ]
    )
    return runs, yields, insp, wo


def _dist(point: dict[str, float], rid: str) -> float:
    r = RECIPES[rid]
    return float(np.sqrt(sum(((point[p.name] - p.optimum) / (p.high - p.low)) ** 2 for p in r.params)))


def setpoint_benchmark(runs, yields, wo) -> tuple[list[dict], float]:
    rows = []
    t_total = 0.0
    for rid, rdef in RECIPES.items():
        X, y = process_frame(runs, yields, rid, "yield_pct", wo)
        recipe = rdef.domain(("main",))
        t = time.perf_counter()
        surrogate = ProcessSurrogate(kind="diagonal").fit(X, y)
        rec = recommend_setpoints(surrogate, recipe, context={PM_AGE: 0.0}, n_trials=120, seed=0)
        t_total += time.perf_counter() - t
        base = response(rid, default_setpoints(rid))["yield_pct"]
        ours = response(rid, rec.setpoints)["yield_pct"]
        best = response(rid, optimum(rid))["yield_pct"]
        top = X.assign(_y=y.to_numpy()).nlargest(max(10, len(X) // 20), "_y")
        copy = {p.name: float(top[p.name].mean()) for p in rdef.params}
        copied = response(rid, copy)["yield_pct"]
        rows.append(
            {
                "recipe": rid,
                "n_runs": len(X),
                "default_yield": base,
                "recommended_yield": ours,
                "optimum_yield": best,
                "yield_gain": ours - base,
                "max_gain": best - base,
                "predicted_gain": rec.gain,
                "predicted_gain_std": rec.gain_std,
                "distance_to_optimum": _dist(rec.setpoints, rid),
                "default_distance": _dist(default_setpoints(rid), rid),
                "baseline_gain": copied - base,
                "baseline_distance": _dist(copy, rid),
            }
        )
        print(
            f"{rid}: gain {ours - base:+.2f} of {best - base:+.2f} (predicted {rec.gain:+.2f} ± {rec.gain_std:.2f}); "
            f"distance {rows[-1]['distance_to_optimum']:.3f} (default {rows[-1]['default_distance']:.3f}); "
            f"baseline gain {copied - base:+.2f}",
            flush=True,
        )
    return rows, t_total


def r2r_benchmark(runs, insp) -> dict:
    rid, knob = "CVD-SIN-GI", "SIH4_SCCM"
    rdef = RECIPES[rid]
    p = next(q for q in rdef.params if q.name == knob)
    # process gain from the stored data: least squares of thickness on all setpoints of the recipe
    X, y = process_frame(runs, insp, rid, rdef.outcome)
    A = np.column_stack([np.ones(len(X)), X[[q.name for q in rdef.params]].to_numpy()])
    coef = np.linalg.lstsq(A, y.to_numpy(), rcond=None)[0]
    gain = float(coef[1 + [q.name for q in rdef.params].index(knob)])
    target = rdef.target
    n, runs_per_day, pm_days = 3000, 60, 7.0
    noise = np.random.default_rng(0).normal(0, 0.003 * target, n)
    fault_strength = np.where(
        (np.arange(n) >= 1200) & (np.arange(n) < 1800),
        0.6 * np.clip((np.arange(n) - 1200) / 300.0, 0.0, 1.0) + 0.3,
        0.0,
    )
    base = default_setpoints(rid)

    def plant(k: int, u: float) -> float:
        age = (k / runs_per_day) % pm_days
        faults = {"mfc_drift": float(fault_strength[k])} if fault_strength[k] > 0 else {}
        out = response(rid, {**base, knob: u}, ChamberState(pm_age_days=age, faults=faults))
        return out[rdef.outcome] + noise[k]

    limits = {"low": p.low, "high": p.high, "u0": p.default}
    single = run_closed_loop(EWMAController(target, gain, lam=0.3, **limits), plant, n)
    double = run_closed_loop(DoubleEWMAController(target, gain, lam=0.3, lam2=0.05, **limits), plant, n)
    ctrl = DoubleEWMAController(target, gain, lam=0.3, lam2=0.05, **limits)
    reps = 200_000
    t = time.perf_counter()
    for k in range(reps):
        ctrl.adjust(target + (k % 11) * 0.5)
    us = (time.perf_counter() - t) / reps * 1e6
    true_gain = (
        response(rid, {**base, knob: p.default * 1.01})[rdef.outcome]
        - response(rid, {**base, knob: p.default * 0.99})[rdef.outcome]
    ) / (0.02 * p.default)
    return {
        "recipe": rid,
        "knob": knob,
        "outcome": rdef.outcome,
        "estimated_gain": gain,
        "true_gain": true_gain,
        "n_runs": n,
        "open_loop_rmse": float(np.sqrt(single.open_loop_mse)),
        "ewma_rmse": float(np.sqrt(single.mse)),
        "double_ewma_rmse": float(np.sqrt(double.mse)),
        "ewma_variance_reduction": single.variance_reduction,
        "double_ewma_variance_reduction": double.variance_reduction,
        "us_per_adjustment": us,
    }


def main() -> None:
    t = time.perf_counter()
    result = simulate(days=90, seed=0, scale="demo", faults=None, traces=False, documents=False)
    print(f"simulated {len(result.batch.runs):,} runs in {time.perf_counter() - t:.1f} s", flush=True)
    runs, yields, insp, wo = frames(result.batch)
    rows, t_opt = setpoint_benchmark(runs, yields, wo)
    r2r = r2r_benchmark(runs, insp)
    mean = lambda k: float(np.mean([r[k] for r in rows]))
    route = lambda k: 100.0 * float(np.prod([r[k] / 100.0 for r in rows]))
    out = {
        "route_yield_gain": route("recommended_yield") - route("default_yield"),
        "route_yield_gain_max": route("optimum_yield") - route("default_yield"),
        "yield_gain": mean("yield_gain"),
        "yield_gain_share": mean("yield_gain") / mean("max_gain"),
        "max_yield_gain": mean("max_gain"),
        "predicted_yield_gain": mean("predicted_gain"),
        "distance_to_optimum": mean("distance_to_optimum"),
        "default_distance_to_optimum": mean("default_distance"),
        "r2r_variance_reduction": r2r["double_ewma_variance_reduction"],
        "r2r_variance_reduction_ewma": r2r["ewma_variance_reduction"],
        "r2r_us_per_adjustment": r2r["us_per_adjustment"],
        "seconds_per_recommendation": t_opt / len(rows),
        "baseline": {
            "name": "copy the 5% best runs' setpoints",
            "yield_gain": mean("baseline_gain"),
            "distance_to_optimum": mean("baseline_distance"),
            "r2r": "setpoint held (no control)",
        },
        "recipes": rows,
        "r2r": r2r,
        "note": "yield in points of the step yield of the simulator's noise-free response; shared 2-core machine",
    }
    write_result(
        "process_sim",
        out,
        [
            (
                "yield_gain (points, mean of 9 recipes)",
                out["yield_gain"],
                out["baseline"]["yield_gain"],
                f"max possible {out['max_yield_gain']:.3g}",
            ),
            (
                "route yield gain (all 9 steps, points)",
                out["route_yield_gain"],
                None,
                f"max possible {out['route_yield_gain_max']:.3g}",
            ),
            (
                "distance_to_optimum (span units)",
                out["distance_to_optimum"],
                out["baseline"]["distance_to_optimum"],
                f"default {out['default_distance_to_optimum']:.3g}",
            ),
            ("r2r_variance_reduction (double EWMA)", out["r2r_variance_reduction"], 0.0, None),
            ("r2r_variance_reduction (EWMA)", out["r2r_variance_reduction_ewma"], 0.0, None),
            ("r2r_us_per_adjustment", out["r2r_us_per_adjustment"], None, "goal < 1000"),
        ],
    )


if __name__ == "__main__":
    main()
