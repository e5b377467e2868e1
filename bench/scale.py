"""Scale-out: FDC training + batch scoring for 50, 200 and 1000 simulated chambers, in-process and on a
2-worker Dask LocalCluster.

Each fab is simulated (3 days, seeded, default faults) and written to a SQLite store first; every
task then reads its own chamber's slice from the store (``fabmind.scale.jobs``): train one MSPC per
chamber x recipe on days 0-2, register them (one index write), score day 2-3 with the active models.
Baseline (same run): the in-process executor (one core). Reported: seconds per phase, the speed-up
with 2 workers, and the growth exponent b of ``time ~ chambers^b`` (least squares in log-log; 1 = linear).

Per-chamber data is kept small (3 days, ``min_train_runs=15``) so 1000 chambers fit in memory and time.
The machine has 2 cores shared with other jobs: timings are pessimistic, the speed-up especially.

    .venv/bin/python bench/scale.py [--sizes 50,200,1000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.fdc import FdcConfig
from fabmind.models.registry import ModelRegistry
from fabmind.scale import DaskExecutor, InProcessExecutor
from fabmind.scale.jobs import open_store, score_fleet, train_fleet, warm_store

DAYS, TRAIN_DAYS, SEED = 3.0, 2.0, 5
CONFIG = FdcConfig(min_train_runs=15)
NOTE = ("measured with nothing else running on the 2 cores (load average before the run in `load_before`); "
        "driver, scheduler and both workers share the same 2 cores")


def build_store(n: int, folder: Path) -> tuple[str, object, int]:
    from fabmind.sim import simulate
    from fabmind.store import Store

    t0 = time.perf_counter()
    result = simulate(days=DAYS, seed=SEED, scale=n, documents=False)
    url = f"sqlite:///{folder / f'fab{n}.db'}"
    with Store(url) as store:
        store.write_batch(result.batch)
    runs = len(result.batch.runs)
    print(f"{n} chambers: {runs:,} runs simulated and stored in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url, result.start, runs


def run(executor, url: str, start, folder: Path) -> dict:
    reg_dir = folder / f"models-{type(executor).__name__}"
    shutil.rmtree(reg_dir, ignore_errors=True)
    registry = ModelRegistry(reg_dir)
    train_end = start + timedelta(days=TRAIN_DAYS)
    t0 = time.perf_counter()
    fleet = train_fleet(executor, url, registry, start, train_end, config=CONFIG)
    t1 = time.perf_counter()
    scores = score_fleet(executor, url, registry, train_end, None, config=CONFIG)
    t2 = time.perf_counter()
    return {"train_s": t1 - t0, "score_s": t2 - t1, "total_s": t2 - t0, "models": len(fleet.versions),
            "runs_trained": fleet.runs, "runs_scored": scores.n_scored, "alarms": len(scores.alarms),
            "task_cpu_s": fleet.task_seconds + scores.task_seconds}


def exponent(ns: list[int], ts: list[float]) -> float:
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,200,1000")
    sizes = [int(s) for s in ap.parse_args().sizes.split(",")]
    import os

    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="fabmind-scale-"))
    dask = DaskExecutor("local", n_workers=2)
    results = {}
    try:
        for n in sizes:
            url, start, runs = build_store(n, folder)
            open_store(url)
            dask.client.run(warm_store, url)  # workers open the store once, as a long-lived cluster would
            local = run(InProcessExecutor(), url, start, folder)
            remote = run(dask, url, start, folder)
            same = (local["models"], local["alarms"]) == (remote["models"], remote["alarms"])
            results[n] = {"runs": runs, "in_process": local, "dask_2_workers": remote,
                          "speedup": local["total_s"] / remote["total_s"], "same_models_and_alarms": same}
            print(f"{n}: in-process {local['total_s']:.1f} s, dask {remote['total_s']:.1f} s, "
                  f"speed-up {results[n]['speedup']:.2f}, same={same}", file=sys.stderr)
            Path(url.removeprefix("sqlite:///")).unlink()
    finally:
        dask.close()
        shutil.rmtree(folder, ignore_errors=True)
    largest = max(sizes)
    out = {
        "sizes": {str(k): v for k, v in results.items()},
        "speedup_2_workers": results[largest]["speedup"],
        "growth_exponent": exponent(sizes, [results[n]["in_process"]["total_s"] for n in sizes]),
        "growth_exponent_dask": exponent(sizes, [results[n]["dask_2_workers"]["total_s"] for n in sizes]),
        "seconds_per_chamber_in_process": results[largest]["in_process"]["total_s"] / largest,
        "config": {"days": DAYS, "train_days": TRAIN_DAYS, "min_train_runs": CONFIG.min_train_runs, "seed": SEED,
                   "store": "SQLite (WAL), one file", "blas_threads_per_task": 1},
        "note": NOTE,
        "load_before": [round(x, 2) for x in load_before],
    }
    rows = []
    for n in sizes:
        r = results[n]
        rows.append((f"{n} chambers ({r['runs']:,} runs): train + score s",
                     r["dask_2_workers"]["total_s"], r["in_process"]["total_s"], f"speed-up {r['speedup']:.2f}"))
    rows.append(("speedup_2_workers (largest)", out["speedup_2_workers"], 1.0, "goal ≥ 1.7"))
    rows.append(("growth_exponent (in-process / dask)", out["growth_exponent_dask"], out["growth_exponent"],
                 "goal ≈ 1 (linear)"))
    write_result("scale", out, rows, header=("metric", "Dask LocalCluster 2 workers", "in-process (same run)", "goal"))


if __name__ == "__main__":
    main()
