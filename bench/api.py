"""API latency and throughput: the fab overview (/api/overview) and the alarm list (/api/alarms) on the
30-day demo fab, served by uvicorn in a separate process on loopback, loaded by an async httpx client.

Two loads per endpoint:
  * fixed rate (open loop, default 200 req/s for 10 s): each request is sent at its scheduled time whether
    or not earlier ones have answered, and its latency is counted from the scheduled time (no coordinated
    omission: a stalled server shows up as latency, not as a lower request rate);
  * max rate (closed loop, 32 concurrent connections for 8 s): requests/s the server sustains.
Baseline in the same run: ``/healthz`` (one ``SELECT 1`` behind the same middleware) = the floor set by
uvicorn + FastAPI + the client on this machine. Goal (issue 8): p99 < 100 ms at 200 req/s.

    .venv/bin/python bench/api.py [--days 30] [--rate 200] [--duration 10] [--rebuild]

Writes bench/results/api.json (keys ``rps``, ``p99_ms`` + per endpoint detail). The client and the server
share this machine's cores (and with anything else running): figures are pessimistic on a busy host.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

ENDPOINTS = {"overview": "/api/overview", "alarms": "/api/alarms", "healthz (baseline)": "/healthz"}
CACHE = Path(tempfile.gettempdir()) / "fabmind-bench-api"
GOAL_P99_MS = 100.0


def build_store(days: int, seed: int, rebuild: bool) -> str:
    """The demo fab (``simulate(days, seed, scale='demo')``) in a cached SQLite file; returns its URL."""
    from fabmind.store import Store

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"demo-{days}d-seed{seed}.db"
    done = path.with_suffix(".ok")
    if rebuild or not done.exists():
        from fabmind.sim import simulate

        for p in CACHE.glob(f"{path.name}*"):
            p.unlink()
        done.unlink(missing_ok=True)
        t0 = time.perf_counter()
        fab = simulate(days=days, seed=seed, scale="demo")
        store = Store(f"sqlite:///{path}")
        store.write_batch(fab.batch)
        store.close()
        done.write_text("ok")
        print(f"built the {days}-day demo fab in {time.perf_counter() - t0:.1f} s: {path}", flush=True)
    return f"sqlite:///{path}"


def bench_token(db_url: str) -> tuple[str, dict]:
    from fabmind.api.auth import UserDirectory
    from fabmind.store import Store

    store = Store(db_url)
    directory = UserDirectory(store.engine)
    directory.add_user("bench-viewer", "bench-password-1", "viewer")
    token = directory.issue_token("bench-viewer", "bench/api.py")
    size = {"chambers": len(store.chambers_frame()), "alarms": len(store.alarms()),
            "open_alarms": len(store.alarms(state=["raised", "acknowledged"])), "runs": len(store.runs())}
    store.close()
    return token, size


def serve(db_url: str, port: int) -> None:
    """The server process: the real app, one uvicorn worker, access log off (as behind a proxy that logs)."""
    import uvicorn

    from fabmind.api.app import create_app
    from fabmind.config import Settings

    home = Path(tempfile.mkdtemp(prefix="fabmind-bench-home-"))
    app = create_app(Settings(db_url=db_url, home=home))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", db_url, "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("the server did not answer /healthz within 60 s")


def summary(latencies_s: list[float], errors: int, seconds: float) -> dict:
    lat = np.asarray(latencies_s) * 1000
    n = int(lat.size)
    return {"requests": n, "errors": errors, "seconds": round(seconds, 2), "rps": round(n / seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2) if n else None,
            "p90_ms": round(float(np.percentile(lat, 90)), 2) if n else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 2) if n else None,
            "max_ms": round(float(lat.max()), 2) if n else None}


async def fixed_rate(client, path: str, rate: float, duration: float) -> dict:
    """Open loop: request i is due at t0 + i/rate; latency runs from the due time to the full response."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0

    async def one(due: float) -> None:
        nonlocal errors
        try:
            r = await client.get(path)
            await r.aread()
            ok = r.status_code == 200
        except Exception:  # noqa: BLE001 - counted
            ok = False
        if ok:
            latencies.append(loop.time() - due)
        else:
            errors += 1

    n = int(rate * duration)
    t0 = loop.time() + 0.05
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return {**summary(latencies, errors, loop.time() - t0), "target_rps": rate}


async def max_rate(client, path: str, concurrency: int, duration: float) -> dict:
    """Closed loop: ``concurrency`` workers send the next request as soon as the previous one answered."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    end = loop.time() + duration

    async def worker() -> None:
        nonlocal errors
        while loop.time() < end:
            t = loop.time()
            try:
                r = await client.get(path)
                await r.aread()
                ok = r.status_code == 200
            except Exception:  # noqa: BLE001 - counted
                ok = False
            if ok:
                latencies.append(loop.time() - t)
            else:
                errors += 1

    t0 = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {**summary(latencies, errors, loop.time() - t0), "concurrency": concurrency}


async def load(base: str, token: str, args) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    out = {}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:
        for name, path in ENDPOINTS.items():
            r = await client.get(path)
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
            body = r.json()
            for _ in range(30):  # warm up: connections, caches, code paths
                await client.get(path)
            fixed = await fixed_rate(client, path, args.rate, args.duration)
            await asyncio.sleep(1.0)
            low = await fixed_rate(client, path, args.low_rate, args.duration / 2)  # where does the goal hold?
            await asyncio.sleep(0.5)
            top = await max_rate(client, path, args.concurrency, args.max_duration)
            await asyncio.sleep(0.5)
            out[name] = {"path": path, "response_bytes": len(r.content),
                         "items": body.get("total") if isinstance(body, dict) else None,
                         "fixed_rate": fixed, "fixed_low_rate": low, "max_rate": top}
            print(f"{path}: {args.rate:g} req/s → p50 {fixed['p50_ms']} ms, p99 {fixed['p99_ms']} ms, "
                  f"{fixed['errors']} errors; {args.low_rate:g} req/s → p99 {low['p99_ms']} ms; "
                  f"max {top['rps']} req/s (p99 {top['p99_ms']} ms)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=200.0, help="fixed request rate (req/s)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds at the fixed rate")
    ap.add_argument("--low-rate", type=float, default=50.0, help="a second, lower fixed rate (req/s)")
    ap.add_argument("--concurrency", type=int, default=32, help="connections for the max-rate run")
    ap.add_argument("--max-duration", type=float, default=8.0, help="seconds at max rate")
    ap.add_argument("--rebuild", action="store_true", help="simulate the demo fab again")
    ap.add_argument("--db", default="", help="an existing store URL instead of the simulated demo fab")
    ap.add_argument("--serve", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    db_url = args.db or build_store(args.days, args.seed, args.rebuild)
    token, size = bench_token(db_url)
    proc, base = start_server(db_url)
    try:
        results = asyncio.run(load(base, token, args))
    finally:
        proc.terminate()
        proc.wait(10)

    measured = {k: v for k, v in results.items() if "baseline" not in k}
    p99 = max(v["fixed_rate"]["p99_ms"] for v in measured.values())
    rps = min(v["max_rate"]["rps"] for v in measured.values())
    result = {
        "rps": rps, "p99_ms": p99, "rate": args.rate, "goal_p99_ms": GOAL_P99_MS,
        "p99_ms_low_rate": max(v["fixed_low_rate"]["p99_ms"] for v in measured.values()), "low_rate": args.low_rate,
        "goal_met": bool(p99 < GOAL_P99_MS and all(v["fixed_rate"]["errors"] == 0 for v in measured.values())),
        "endpoints": results, "fab": {"days": args.days, "seed": args.seed, **size} if not args.db else size,
        "setup": {"server": "uvicorn, 1 worker, access log off, SQLite", "client": "httpx.AsyncClient (same host)",
                  "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "notes": "rps = the lower of the two endpoints' max-rate throughput; p99_ms = the higher of their p99 at "
                 "the fixed rate (latency from the scheduled send time). Client and server share the host.",
    }
    rows = []
    for name, v in results.items():
        f, m = v["fixed_rate"], v["max_rate"]
        rows.append((f"{name} p99 @ {args.rate:g} req/s (ms)", f["p99_ms"] if "baseline" not in name else None,
                     f["p99_ms"] if "baseline" in name else None, f"< {GOAL_P99_MS:g} (goal)"))
        lo = v["fixed_low_rate"]
        rows.append((f"{name} p99 @ {args.low_rate:g} req/s (ms)", lo["p99_ms"] if "baseline" not in name else None,
                     lo["p99_ms"] if "baseline" in name else None, f"< {GOAL_P99_MS:g} (goal)"))
        rows.append((f"{name} max req/s", m["rps"] if "baseline" not in name else None,
                     m["rps"] if "baseline" in name else None, None))
    write_result("api", result, rows, header=("metric", "fabmind", "baseline /healthz (same run)", "goal / published"))


if __name__ == "__main__":
    main()
