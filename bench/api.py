"""API latency and throughput: the fab overview (/api/overview) and the alarm list (/api/alarms) on the
30-day demo fab, on loopback, with the server, the load generator and (for the live phase) a writer each in
a process of its own:

  * server: the real app (``create_app``) under uvicorn, **1 worker**, access log off, SQLite store; uvloop
    and httptools when installed (the JSON says which);
  * load generator: a minimal HTTP/1.1 keep-alive client on asyncio streams (``--client raw``, default; a
    fraction of httpx's CPU per request, so that on a small shared host the client does not starve the
    server it measures) or ``httpx.AsyncClient`` (``--client httpx``), every request authenticated with a
    viewer's API token;
  * writer (live phase only): commits an alarm state change ``--write-rate`` times per second, as a monitor
    or an engineer would; every commit invalidates the API's cached answers, so this phase measures the
    recomputation path too (the original state is restored afterwards).

Per endpoint:
  * fixed rate (open loop, default 200 req/s for 10 s): request i is due at t0 + i/rate and sent then
    whether or not earlier ones have answered; latency runs from the due time (no coordinated omission);
  * a lower fixed rate (50 req/s): where the goal holds if the high rate does not;
  * max rate (closed loop, 32 connections for 8 s): the requests/s the server sustains;
  * live (overview and alarms): the fixed rate again while the writer commits.
Baseline in the same run: ``/healthz`` (one ``SELECT 1`` in the threadpool, same middleware, no
authentication) = the floor set by uvicorn + FastAPI + the client on this host.
Goal (issue 8): p99 < 100 ms at 200 req/s.

    .venv/bin/python bench/api.py [--days 30] [--rate 200] [--duration 10] [--client raw|httpx] [--rebuild]
    .venv/bin/python bench/api.py --no-cache   # the same with the API's caches off -> api-nocache.json

Writes bench/results/api.json (keys ``rps``, ``p99_ms`` + per endpoint detail, load averages) and api.md.
All processes share this host's cores with anything else running: on a busy host the figures are
pessimistic (the JSON records the 1-minute load average before, during and after).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
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
LIVE = ("overview", "alarms")
RUNS_PAGE = (100, 20_000)  # /api/runs?limit=&offset=: one page deep in the 46k runs (sequential requests)
CACHE = Path(tempfile.gettempdir()) / "fabmind-bench-api"
GOAL_P99_MS = 100.0


# ----------------------------------------------------------------------------------------------- setup


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


def bench_token(db_url: str) -> tuple[str, dict, str]:
    """A viewer's API token, the fab's size, and the newest open alarm (the live phase's writer toggles it)."""
    from fabmind.api.auth import UserDirectory
    from fabmind.store import Store

    store = Store(db_url)
    directory = UserDirectory(store.engine)
    directory.add_user("bench-viewer", "bench-password-1", "viewer")
    token = directory.issue_token("bench-viewer", "bench/api.py")
    alarms = store.alarms()
    open_ = alarms[alarms["state"].isin(["raised", "acknowledged"])].sort_values("ts")
    size = {"chambers": len(store.chambers_frame()), "alarms": len(alarms), "open_alarms": len(open_),
            "runs": len(store.runs())}
    store.close()
    return token, size, str(open_["alarm_id"].iloc[-1])


def server_flavour() -> dict:
    """uvicorn's event loop and HTTP parser: uvloop/httptools when installed, else asyncio/h11."""
    return {"loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11"}


def serve(db_url: str, port: int, cache: bool = True) -> None:
    """The server process: the real app, one uvicorn worker, access log off (as behind a proxy that logs).
    ``cache=False`` switches the API's response and token caches off (every request queries the store)."""
    import uvicorn

    from fabmind.api.app import create_app
    from fabmind.config import Settings

    home = Path(tempfile.mkdtemp(prefix="fabmind-bench-home-"))
    app = create_app(Settings(db_url=db_url, home=home))
    app.state.response_cache.enabled = app.state.auth_cache.enabled = cache
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, workers=1,
                **server_flavour())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, cache: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", db_url, "--port", str(port)]
                            + ([] if cache else ["--no-cache"]))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("the server did not answer /healthz within 60 s")


def writer(db_url: str, alarm_id: str, rate: float, seconds: float) -> None:
    """The live phase's writer process: toggles one alarm raised <-> acknowledged ``rate`` times per second
    (each a committed transaction, as an engineer's acknowledgement is), then restores its state."""
    from fabmind.store import Store

    store = Store(db_url)
    original = str(store.alarms().set_index("alarm_id").loc[alarm_id, "state"])
    other = "acknowledged" if original == "raised" else "raised"
    commits = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            store.set_alarm_state(alarm_id, other if commits % 2 == 0 else original)
            commits += 1
            time.sleep(max(0.0, t0 + commits / rate - time.monotonic()))
    finally:
        store.set_alarm_state(alarm_id, original)
        store.close()
    print(json.dumps({"commits": commits, "seconds": round(time.monotonic() - t0, 2)}), flush=True)


# ------------------------------------------------------------------------------------------ the client


class RawClient:
    """Minimal HTTP/1.1 keep-alive GET client on asyncio streams: a pool of connections, a new one opened
    when all are busy (as httpx does), a request retried once on a fresh connection if a reused idle one
    turns out closed by the server (keep-alive timeout) before any answer."""

    def __init__(self, port: int, headers: dict[str, str], max_connections: int = 256):
        self.port = port
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._requests: dict[str, bytes] = {}
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    def _request(self, path: str) -> bytes:
        raw = self._requests.get(path)
        if raw is None:
            raw = self._requests[path] = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{self._extra}\r\n".encode()
        return raw

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await self._exchange(conn, path)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise
            return await self._exchange(await asyncio.open_connection("127.0.0.1", self.port), path)

    async def _exchange(self, conn, path: str) -> tuple[int, bytes]:
        reader, writer = conn
        try:
            writer.write(self._request(path))
            head = await reader.readuntil(b"\r\n\r\n")
            status, length, keep = int(head[9:12]), 0, True
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    raise ValueError(f"{path}: chunked responses are not supported by this client")
                elif name == b"connection" and value.strip().lower() == b"close":
                    keep = False
            body = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()
            raise
        if keep:
            self._idle.append(conn)
        else:
            writer.close()
        return status, body

    async def aclose(self) -> None:
        for _, w in self._idle:
            w.close()
        self._idle.clear()


class HttpxClient:
    def __init__(self, port: int, headers: dict[str, str], max_connections: int = 256):
        import httpx

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits,
                                         timeout=60)

    async def get(self, path: str) -> tuple[int, bytes]:
        r = await self._client.get(path)
        return r.status_code, await r.aread()

    async def aclose(self) -> None:
        await self._client.aclose()


# ---------------------------------------------------------------------------------------------- loads


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU time per request of the server and of this load generator over one phase: unlike latency, this
    does not depend on how busy the host is (1000 / server_cpu_ms_per_req = req/s one free core sustains)."""

    def __init__(self, server_pid: int):
        self.pid = server_pid
        self.server0, self.client0 = process_cpu_s(server_pid), time.process_time()

    def per_request(self, n: int) -> dict:
        server1, client1 = process_cpu_s(self.pid), time.process_time()
        per = lambda a, b: round((b - a) * 1000 / n, 3) if n and a is not None and b is not None else None
        return {"server_cpu_ms_per_req": per(self.server0, server1), "client_cpu_ms_per_req": per(self.client0, client1)}


def summary(latencies_s: list[float], errors: int, seconds: float) -> dict:
    lat = np.asarray(latencies_s) * 1000
    n = int(lat.size)
    return {"requests": n, "errors": errors, "seconds": round(seconds, 2), "rps": round(n / seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2) if n else None,
            "p90_ms": round(float(np.percentile(lat, 90)), 2) if n else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 2) if n else None,
            "max_ms": round(float(lat.max()), 2) if n else None,
            "load_avg_1m": round(os.getloadavg()[0], 2)}


async def timed_get(client, path: str, since: float, latencies: list[float]) -> bool:
    """GET ``path``; on a 200 append the time from ``since`` to the full response. False on any failure."""
    try:
        status, _ = await client.get(path)
    except Exception:  # noqa: BLE001 - counted by the caller
        return False
    if status != 200:
        return False
    latencies.append(asyncio.get_running_loop().time() - since)
    return True


async def fixed_rate(client, path: str, rate: float, duration: float, server_pid: int) -> dict:
    """Open loop: request i is due at t0 + i/rate; latency runs from the due time to the full response."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0

    async def one(due: float) -> None:
        nonlocal errors
        errors += not await timed_get(client, path, due, latencies)

    n = int(rate * duration)
    cpu = CpuMeter(server_pid)
    t0 = loop.time() + 0.05
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return {**summary(latencies, errors, loop.time() - t0), **cpu.per_request(n), "target_rps": rate}


async def max_rate(client, path: str, concurrency: int, duration: float, server_pid: int) -> dict:
    """Closed loop: ``concurrency`` workers send the next request as soon as the previous one answered."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    end = loop.time() + duration

    async def worker() -> None:
        nonlocal errors
        while loop.time() < end:
            errors += not await timed_get(client, path, loop.time(), latencies)

    cpu = CpuMeter(server_pid)
    t0 = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {**summary(latencies, errors, loop.time() - t0), **cpu.per_request(len(latencies) + errors),
            "concurrency": concurrency}


async def load(cfg: dict) -> dict:
    """The load generator process's work: every phase of every endpoint, in order."""
    kind = RawClient if cfg["client"] == "raw" else HttpxClient
    client = kind(cfg["port"], {"Authorization": f"Bearer {cfg['token']}"})
    out: dict = {}
    try:
        for name, path in ENDPOINTS.items():
            status, body = await client.get(path)
            assert status == 200, f"{path}: {status} {body[:300]!r}"
            doc = json.loads(body)
            for _ in range(30):  # warm up: connections, caches, code paths
                await client.get(path)
            fixed = await fixed_rate(client, path, cfg["rate"], cfg["duration"], cfg["server_pid"])
            await asyncio.sleep(1.0)
            low = await fixed_rate(client, path, cfg["low_rate"], cfg["duration"] / 2, cfg["server_pid"])
            await asyncio.sleep(0.5)
            top = await max_rate(client, path, cfg["concurrency"], cfg["max_duration"], cfg["server_pid"])
            await asyncio.sleep(0.5)
            out[name] = {"path": path, "response_bytes": len(body),
                         "items": doc.get("total") if isinstance(doc, dict) else None,
                         "fixed_rate": fixed, "fixed_low_rate": low, "max_rate": top}
            print(f"{path}: {cfg['rate']:g} req/s → p50 {fixed['p50_ms']} ms, p99 {fixed['p99_ms']} ms, "
                  f"{fixed['errors']} errors; {cfg['low_rate']:g} req/s → p99 {low['p99_ms']} ms; "
                  f"max {top['rps']} req/s (p99 {top['p99_ms']} ms); server CPU {fixed['server_cpu_ms_per_req']} "
                  f"ms/req; load {top['load_avg_1m']}",
                  file=sys.stderr, flush=True)
        out["runs page"] = await sequential(client, f"/api/runs?limit={RUNS_PAGE[0]}&offset={RUNS_PAGE[1]}", 20)
    finally:
        await client.aclose()
    return out


async def sequential(client, path: str, n: int) -> dict:
    """``n`` requests one after another (latency of a single request on an otherwise idle server)."""
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        status, body = await client.get(path)
        assert status == 200, f"{path}: {status} {body[:300]!r}"
        lat.append(time.perf_counter() - t)
    return {"path": path, "requests": n, "p50_ms": round(float(np.median(lat)) * 1000, 2),
            "max_ms": round(max(lat) * 1000, 2)}


def dataframe_runs_page(db_url: str) -> float:
    """The former /api/runs: the whole runs table as a DataFrame, then one page of it (median ms of 3)."""
    from fabmind.api.paging import page_of
    from fabmind.store import Store

    store = Store(db_url)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        page_of(store.runs(), *RUNS_PAGE)
        times.append(time.perf_counter() - t)
    store.close()
    return round(float(np.median(times)) * 1000, 1)


async def load_live(cfg: dict) -> dict:
    """The live phase: the fixed rate on one endpoint while the writer process commits."""
    kind = RawClient if cfg["client"] == "raw" else HttpxClient
    client = kind(cfg["port"], {"Authorization": f"Bearer {cfg['token']}"})
    try:
        for _ in range(30):
            await client.get(cfg["path"])
        return await fixed_rate(client, cfg["path"], cfg["rate"], cfg["duration"], cfg["server_pid"])
    finally:
        await client.aclose()


def run_load_process(cfg: dict) -> dict:
    """The load generator runs in a process of its own; it prints its results as JSON."""
    done = subprocess.run([sys.executable, __file__, "--load-gen", json.dumps(cfg)], stdout=subprocess.PIPE,
                          check=True, timeout=3600)
    return json.loads(done.stdout)


def live_phase(db_url: str, port: int, server_pid: int, token: str, alarm_id: str, args) -> dict:
    out = {}
    for name in LIVE:
        writer_proc = subprocess.Popen([sys.executable, __file__, "--writer", db_url, "--alarm", alarm_id,
                                        "--write-rate", str(args.write_rate), "--write-seconds",
                                        str(args.duration + 6)], stdout=subprocess.PIPE)
        time.sleep(2.0)  # the writer's store is open and committing
        cfg = {"client": args.client, "port": port, "server_pid": server_pid, "token": token,
               "path": ENDPOINTS[name], "rate": args.rate, "duration": args.duration}
        res = run_load_process({**cfg, "mode": "live"})
        stdout, _ = writer_proc.communicate(timeout=120)
        res["writer"] = json.loads(stdout.decode().strip().splitlines()[-1])
        out[name] = res
        print(f"{ENDPOINTS[name]} live ({args.write_rate:g} commits/s): {args.rate:g} req/s → p99 "
              f"{res['p99_ms']} ms, {res['errors']} errors; server CPU {res['server_cpu_ms_per_req']} ms/req; "
              f"writer {res['writer']}", flush=True)
    return out


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=200.0, help="fixed request rate (req/s)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds at the fixed rate")
    ap.add_argument("--low-rate", type=float, default=50.0, help="a second, lower fixed rate (req/s)")
    ap.add_argument("--concurrency", type=int, default=32, help="connections for the max-rate run")
    ap.add_argument("--max-duration", type=float, default=8.0, help="seconds at max rate")
    ap.add_argument("--write-rate", type=float, default=5.0, help="commits/s by the writer in the live phase")
    ap.add_argument("--no-live", action="store_true", help="skip the live phase (writer committing)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator's HTTP client")
    ap.add_argument("--no-cache", action="store_true",
                    help="switch the API's response/token caches off (writes api-nocache.json: what they are worth)")
    ap.add_argument("--rebuild", action="store_true", help="simulate the demo fab again")
    ap.add_argument("--db", default="", help="an existing store URL instead of the simulated demo fab")
    ap.add_argument("--serve", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--load-gen", default="", help=argparse.SUPPRESS)
    ap.add_argument("--writer", default="", help=argparse.SUPPRESS)
    ap.add_argument("--alarm", default="", help=argparse.SUPPRESS)
    ap.add_argument("--write-seconds", type=float, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, cache=not args.no_cache)
        return
    if args.load_gen:
        cfg = json.loads(args.load_gen)
        print(json.dumps(asyncio.run(load_live(cfg) if cfg.get("mode") == "live" else load(cfg))))
        return
    if args.writer:
        writer(args.writer, args.alarm, args.write_rate, args.write_seconds)
        return

    db_url = args.db or build_store(args.days, args.seed, args.rebuild)
    token, size, live_alarm = bench_token(db_url)
    load_before = [round(x, 2) for x in os.getloadavg()]
    proc, port = start_server(db_url, cache=not args.no_cache)
    try:
        results = run_load_process({"client": args.client, "port": port, "server_pid": proc.pid, "token": token,
                                    "rate": args.rate,
                                    "duration": args.duration, "low_rate": args.low_rate,
                                    "concurrency": args.concurrency, "max_duration": args.max_duration})
        live = {} if args.no_live else live_phase(db_url, port, proc.pid, token, live_alarm, args)
    finally:
        proc.terminate()
        proc.wait(10)
    load_after = [round(x, 2) for x in os.getloadavg()]
    results["runs page"]["baseline_dataframe_paging_ms"] = dataframe_runs_page(db_url)
    report(args, results, live, size, load_before, load_after)


def report(args, results: dict, live: dict, size: dict, load_before: list, load_after: list) -> None:
    runs_page = results.pop("runs page")
    measured = {k: v for k, v in results.items() if "baseline" not in k}
    p99 = max(v["fixed_rate"]["p99_ms"] for v in measured.values())
    rps = min(v["max_rate"]["rps"] for v in measured.values())
    errors = sum(v["fixed_rate"]["errors"] for v in measured.values())
    result = {
        "rps": rps, "p99_ms": p99, "rate": args.rate, "goal_p99_ms": GOAL_P99_MS,
        "goal_met": bool(p99 < GOAL_P99_MS and errors == 0),
        "p99_ms_low_rate": max(v["fixed_low_rate"]["p99_ms"] for v in measured.values()), "low_rate": args.low_rate,
        "p99_ms_live": max(v["p99_ms"] for v in live.values()) if live else None,
        "live_write_rate": args.write_rate if live else None,
        "baseline_healthz": {"p99_ms": results["healthz (baseline)"]["fixed_rate"]["p99_ms"],
                             "rps": results["healthz (baseline)"]["max_rate"]["rps"]},
        "server_cpu_ms_per_req": {k: v["fixed_rate"]["server_cpu_ms_per_req"] for k, v in results.items()},
        "server_cpu_ms_per_req_live": {k: v["server_cpu_ms_per_req"] for k, v in live.items()},
        "endpoints": results, "live": live, "runs_page": runs_page,
        "fab": {"days": args.days, "seed": args.seed, **size} if not args.db else size,
        "setup": {"server": "uvicorn, 1 worker (separate process), access log off, SQLite store",
                  "api_cache": not args.no_cache, **server_flavour(),
                  "client": ("raw asyncio HTTP/1.1 keep-alive client" if args.client == "raw"
                             else "httpx.AsyncClient") + " (separate process, same host)",
                  "writer": "separate process, Store.set_alarm_state (live phase)",
                  "cpus": os.cpu_count(), "load_avg_before": load_before, "load_avg_after": load_after,
                  "load_avg_1m": load_after[0]},
        "notes": "rps = the lower of the two endpoints' max-rate throughput; p99_ms = the higher of their p99 at "
                 "the fixed rate (latency from the scheduled send time); p99_ms_live = the same with a writer "
                 "committing (every commit invalidates the cached answers). Server, client and writer share "
                 "the host with whatever else runs (load averages 1/5/15 min before and after; per phase "
                 "load_avg_1m): on a busy host the figures are pessimistic.",
    }
    rows = []
    for name, v in results.items():
        base = "baseline" in name
        f, lo, m = v["fixed_rate"], v["fixed_low_rate"], v["max_rate"]
        rows.append((f"{name} p99 @ {args.rate:g} req/s (ms)", None if base else f["p99_ms"],
                     f["p99_ms"] if base else None, f"< {GOAL_P99_MS:g} (goal)"))
        rows.append((f"{name} p99 @ {args.low_rate:g} req/s (ms)", None if base else lo["p99_ms"],
                     lo["p99_ms"] if base else None, f"< {GOAL_P99_MS:g} (goal)"))
        rows.append((f"{name} max req/s", None if base else m["rps"], m["rps"] if base else None, None))
        rows.append((f"{name} server CPU per request @ {args.rate:g} req/s (ms)",
                     None if base else f["server_cpu_ms_per_req"], f["server_cpu_ms_per_req"] if base else None,
                     None))
    for name, v in live.items():
        rows.append((f"{name} p99 @ {args.rate:g} req/s, writer {args.write_rate:g} commits/s (ms)", v["p99_ms"],
                     None, f"< {GOAL_P99_MS:g} (goal)"))
    rows.append((f"{runs_page['path']} p50 (ms; baseline: whole DataFrame paged in-process)", runs_page["p50_ms"],
                 runs_page["baseline_dataframe_paging_ms"], None))
    rows.append(("1-min load average before / after", f"{load_before[0]} / {load_after[0]}", None,
                 f"{os.cpu_count()} cpus"))
    write_result("api-nocache" if args.no_cache else "api", result, rows, header=("metric", "fabmind", "baseline /healthz (same run)", "goal / published"))


if __name__ == "__main__":
    main()
