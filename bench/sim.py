"""How fast the demo fab simulator is: 30 days of the demo fab (goal < 60 s on 2 cores), and what it produced.

Baseline in the same run: the same sensor traces generated value by value in a Python loop (timed on a
sample of runs and extrapolated), to show why generation is vectorised per chamber.
Run: ``.venv/bin/python bench/sim.py`` -> ``bench/results/sim.json``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from fabmind.sim import simulate  # noqa: E402
from fabmind.sim.equipment import PECVD  # noqa: E402


def python_loop_seconds_per_run(n_runs: int = 60) -> float:
    """Per-value Python generation of one PECVD run's trace (nominal + lag + noise)."""
    rnd = random.Random(0)
    spec = PECVD
    t0 = time.perf_counter()
    for _ in range(n_runs):
        prev = [0.0] * len(spec.sensors)
        rows = []
        for i in range(spec.n_samples):
            row = []
            for j, s in enumerate(spec.sensors):
                target = 100.0 + i
                prev[j] = prev[j] + s.alpha * (target - prev[j])
                row.append(min(max(prev[j] + rnd.gauss(0, s.noise), s.low), s.high))
            rows.append(row)
    return (time.perf_counter() - t0) / n_runs


def main() -> None:
    t0 = time.perf_counter()
    result = simulate(days=30, seed=0, scale="demo")
    seconds = time.perf_counter() - t0
    counts = result.batch.counts()
    values = sum(int(t.values.size) for t in result.batch.traces)
    trace_mb = sum(t.values.nbytes for t in result.batch.traces) / 1e6

    t1 = time.perf_counter()
    simulate(days=4, seed=7, scale="small")
    small_s = time.perf_counter() - t1

    t2 = time.perf_counter()
    big = simulate(days=90, seed=0, scale=100, traces=False, documents=False)
    big_s = time.perf_counter() - t2

    loop_s = python_loop_seconds_per_run() * counts["runs"]
    res = {
        "seconds_30_days": round(seconds, 2),
        "counts": counts,
        "sensor_values": values,
        "trace_mb_float32": round(trace_mb, 1),
        "injected_faults": len(result.faults),
        "seconds_small_4_days": round(small_s, 2),
        "seconds_100_chambers_90_days_no_traces": round(big_s, 2),
        "runs_100_chambers_90_days": len(big.batch.runs),
        "baseline_python_loop_traces_seconds_estimate": round(loop_s, 1),
        "note": "timed on a 2-core machine shared with other processes: pessimistic",
    }
    write_result("sim", res, [
        ("seconds for 30 days of the demo fab", seconds, f"{loop_s:.0f} (traces alone, Python loop)", "goal < 60"),
        ("runs / sensor values", f"{counts['runs']:,} / {values:,}", "", ""),
        ("trace size (float32)", f"{trace_mb:.0f} MB", "", "goal: a few hundred MB"),
        ("seconds, small fab 4 days", small_s, "", "goal <= 5"),
        ("seconds, 100 chambers x 90 days (no traces)", big_s, "", ""),
    ])


if __name__ == "__main__":
    main()
