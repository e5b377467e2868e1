"""Store benchmark: sensor readings written per second into SQLite and PostgreSQL.

Ours: ``Store.write_traces`` (one row per run, the float32 matrix as one blob; see
``fabmind/store/codec.py`` for why). Baseline in the same run: ``pandas.DataFrame.to_sql`` of the
same readings as a narrow table (run_id, sensor, sample, ts, value), the usual way such data lands
in a database. Also measured: the trace layouts we chose between (per run, per run x sensor,
narrow), and the validated streaming path (``Store.ingest_readings``).

    .venv/bin/python bench/store.py [--runs 2000] [--samples 120] [--sensors 30]

Writes bench/results/store.json. Timings on a shared 2-core machine are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from fabmind import domain as d  # noqa: E402
from fabmind.store import Store  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
PG_URL = os.environ.get("FABMIND_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_traces(n_runs: int, n_samples: int, n_sensors: int, seed: int = 0) -> list[d.RunTrace]:
    rng = np.random.default_rng(seed)
    sensors = tuple(f"S{j:02d}" for j in range(n_sensors))
    steps = np.repeat(np.arange(4, dtype=np.uint8), -(-n_samples // 4))[:n_samples]
    base = rng.uniform(10, 1000, size=n_sensors).astype(np.float32)
    out = []
    for i in range(n_runs):
        values = (base + rng.normal(size=(n_samples, n_sensors)).astype(np.float32) * base * 0.01).astype(np.float32)
        out.append(d.RunTrace(run_id=f"R{i:07d}", chamber_id=f"ETCH-{1 + i % 12:02d}/{'ABC'[i % 3]}",
                              start=T0 + timedelta(minutes=2 * i), dt_s=1.0, sensors=sensors, values=values,
                              step_index=steps))
    return out


def narrow_frame(traces: list[d.RunTrace]) -> pd.DataFrame:
    """The same readings, one row each: what a to_sql user would write."""
    parts = []
    for t in traces:
        n, m = t.values.shape
        ts = pd.Timestamp(t.start) + pd.to_timedelta(np.arange(n) * t.dt_s, unit="s")
        parts.append(pd.DataFrame({
            "run_id": t.run_id, "sensor": np.tile(np.asarray(t.sensors), n), "sample": np.repeat(np.arange(n), m),
            "ts": np.repeat(ts.values, m), "value": t.values.ravel(),
        }))
    return pd.concat(parts, ignore_index=True)


def n_readings(traces: list[d.RunTrace]) -> int:
    return sum(t.values.size for t in traces)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_store(url: str, traces: list[d.RunTrace], schema: str | None = None) -> float:
    store = Store(url, schema=schema)
    try:
        seconds = timed(lambda: store.write_traces(traces))
        assert store.counts()["traces"] == len(traces)
        return n_readings(traces) / seconds
    finally:
        store.close()


def bench_to_sql(url: str, frame: pd.DataFrame, schema: str | None = None) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        if schema:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        seconds = timed(lambda: frame.to_sql("readings_narrow", engine, schema=schema, index=False,
                                             if_exists="replace", chunksize=10_000))
        return len(frame) / seconds
    finally:
        engine.dispose()


def bench_layouts(folder: Path, traces: list[d.RunTrace]) -> dict[str, dict[str, float]]:
    """Write rate, bytes per reading and read rates of the three trace layouts (raw sqlite3, WAL)."""
    results = {}
    n = n_readings(traces)
    sensor = traces[0].sensors[len(traces[0].sensors) // 2]
    j = traces[0].sensors.index(sensor)
    for layout in ("per_run_blob", "per_run_sensor_blob", "narrow"):
        path = folder / f"layout_{layout}.db"
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        if layout == "per_run_blob":
            con.execute("CREATE TABLE t (run_id TEXT PRIMARY KEY, sensors TEXT, n INT, v BLOB)")
            rows = lambda: ((t.run_id, ",".join(t.sensors), len(t.values), t.values.tobytes()) for t in traces)  # noqa: E731
            sql = "INSERT INTO t VALUES (?,?,?,?)"
        elif layout == "per_run_sensor_blob":
            con.execute("CREATE TABLE t (run_id TEXT, sensor TEXT, v BLOB, PRIMARY KEY (run_id, sensor))")
            rows = lambda: ((t.run_id, s, np.ascontiguousarray(t.values[:, k]).tobytes())  # noqa: E731
                            for t in traces for k, s in enumerate(t.sensors))
            sql = "INSERT INTO t VALUES (?,?,?)"
        else:
            con.execute("CREATE TABLE t (run_id TEXT, sensor TEXT, i INT, v REAL, PRIMARY KEY (run_id, sensor, i))")
            rows = lambda: ((t.run_id, s, i, float(x)) for t in traces  # noqa: E731
                            for i, row in enumerate(t.values.tolist()) for s, x in zip(t.sensors, row))
            sql = "INSERT INTO t VALUES (?,?,?,?)"

        def write():
            con.execute("BEGIN")
            con.executemany(sql, rows())
            con.execute("COMMIT")

        w = timed(write)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        if layout == "per_run_blob":
            read_all = lambda: [np.frombuffer(v, "<f4") for (v,) in con.execute("SELECT v FROM t")]  # noqa: E731
            read_one = lambda: [np.frombuffer(v, "<f4").reshape(k, -1)[:, j]  # noqa: E731
                                for (k, v) in con.execute("SELECT n, v FROM t")]
        elif layout == "per_run_sensor_blob":
            read_all = lambda: [np.frombuffer(v, "<f4") for (v,) in con.execute("SELECT v FROM t")]  # noqa: E731
            read_one = lambda: [np.frombuffer(v, "<f4")  # noqa: E731
                                for (v,) in con.execute("SELECT v FROM t WHERE sensor = ?", (sensor,))]
        else:
            read_all = lambda: con.execute("SELECT v FROM t ORDER BY run_id, sensor, i").fetchall()  # noqa: E731
            read_one = lambda: con.execute("SELECT v FROM t WHERE sensor = ? ORDER BY run_id, i",  # noqa: E731
                                           (sensor,)).fetchall()
        ra, r1 = timed(read_all), timed(read_one)
        con.close()
        results[layout] = {"write_readings_per_s": n / w, "bytes_per_reading": size / n,
                           "read_all_readings_per_s": n / ra, "read_one_sensor_s": r1}
    return results


def bench_ingest(folder: Path, n: int = 20_000) -> float:
    """Validated streaming path: Store.ingest_readings of n readings (3 sensors, one chamber)."""
    store = Store(f"sqlite:///{folder / 'ingest.db'}")
    store.upsert([
        d.EquipmentType(type_id="T", area_id="A", name="t", process="etch"),
        *[d.Sensor(type_id="T", name=f"S{j}", unit="u", low=-1e6, high=1e6) for j in range(3)],
        d.Chamber(chamber_id="ETCH-01/A", equipment_id="ETCH-01", type_id="T"),
    ])
    readings = [{"chamber_id": "ETCH-01/A", "sensor": f"S{i % 3}", "ts": T0 + timedelta(seconds=i // 3),
                 "value": float(i)} for i in range(n)]
    seconds = timed(lambda: store.ingest_readings(readings, source="bench"))
    assert store.counts()["readings"] == n
    store.close()
    return n / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=120)
    ap.add_argument("--sensors", type=int, default=30)
    ap.add_argument("--baseline-runs", type=int, default=200, help="runs written by to_sql (it is slow)")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()

    traces = make_traces(args.runs, args.samples, args.sensors)
    subset = traces[: args.baseline_runs]
    frame = narrow_frame(subset)
    result: dict = {"runs": args.runs, "samples_per_run": args.samples, "sensors": args.sensors,
                    "readings": n_readings(traces), "baseline_readings": len(frame)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sqlite_rate = bench_store(f"sqlite:///{folder / 'ours.db'}", traces)
        sqlite_subset_rate = bench_store(f"sqlite:///{folder / 'ours_subset.db'}", subset)
        to_sql_rate = bench_to_sql(f"sqlite:///{folder / 'to_sql.db'}", frame)
        result.update(sqlite_readings_per_s=sqlite_rate, sqlite_subset_readings_per_s=sqlite_subset_rate,
                      to_sql_sqlite_readings_per_s=to_sql_rate, ratio_vs_to_sql=sqlite_rate / to_sql_rate)
        result["layouts_sqlite"] = bench_layouts(folder, traces[: min(300, len(traces))])
        result["ingest_readings_per_s"] = bench_ingest(folder)

    pg_rate = pg_to_sql = None
    if not args.no_postgres:
        schema = f"fabmind_bench_{uuid.uuid4().hex[:8]}"
        try:
            pg_rate = bench_store(PG_URL, traces, schema=schema)
            pg_to_sql = bench_to_sql(PG_URL, frame, schema=schema)
        except Exception as exc:  # server missing: say so, keep the SQLite figures
            print(f"PostgreSQL not measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            from sqlalchemy import create_engine, text

            try:
                engine = create_engine(PG_URL)
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                engine.dispose()
            except Exception:
                pass
    result.update(postgres_readings_per_s=pg_rate, to_sql_postgres_readings_per_s=pg_to_sql,
                  postgres_ratio_vs_to_sql=(pg_rate / pg_to_sql) if pg_rate and pg_to_sql else None,
                  goal_sqlite_readings_per_s=1_000_000, goal_ratio_vs_to_sql=10.0,
                  note="to_sql timed on a prebuilt DataFrame (its construction not counted); shared 2-core "
                       "machine, figures pessimistic")
    lay = result["layouts_sqlite"]
    rows = [
        ("SQLite readings/s (write_traces)", sqlite_rate, f"to_sql narrow: {to_sql_rate:,.0f}", "goal ≥ 1,000,000"),
        ("ratio vs to_sql (SQLite)", sqlite_rate / to_sql_rate, 1.0, "goal ≥ 10"),
        ("PostgreSQL readings/s (write_traces)", pg_rate, f"to_sql narrow: {pg_to_sql:,.0f}" if pg_to_sql else "",
         ""),
        ("ingest_readings (validated, narrow) /s", result["ingest_readings_per_s"], "", ""),
    ]
    for name, r in lay.items():
        rows.append((f"layout {name}: write/s, B/reading, read 1 sensor s",
                     f"{r['write_readings_per_s']:,.0f}", f"{r['bytes_per_reading']:.2f} B",
                     f"{r['read_one_sensor_s']:.3f} s"))
    write_result("store", result, rows)


if __name__ == "__main__":
    main()
