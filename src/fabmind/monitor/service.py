"""The streaming monitor: messages in -> validated, scored, alarmed -> stored -> acknowledged to the source.

A batch of messages goes through two stages:

1. **decide** (latency-critical): validate (quarantine the bad), skip messages already stored or
   in flight, score the new readings per chamber, update alarms, and commit the alarm transitions
   (raised / cleared / escalated) and new chart baselines at once in a small transaction — an
   alarm is in the store a few milliseconds after its message arrived, whatever the write backlog.
2. **write** (durable): readings + quarantine + dedup ledger (+ repeat counts of open alarms) in
   one transaction per group of messages; only then are those messages acknowledged to the broker.

:meth:`Monitor.run` runs the two stages as two tasks on one event loop (no thread, so the GIL is
never contended): decisions go first, the writer yields between transactions, and a transaction
holds at most ``MonitorConfig.write_batch_rows`` readings, so a new message never waits long for
its decision. A failed write is retried (the decisions stand); if the process dies, the broker
re-delivers every unacknowledged message and the dedup ledger turns any already-stored one into a
recorded duplicate: nothing is lost, nothing is stored twice. An alarm committed for a message whose
readings were not yet written when the process died is not raised twice: the re-delivered message
finds it open (the alarm's dedup key) and counts a repeat.

Run-level models (FDC MSPC on run indicators, PdM risk, see :mod:`fabmind.monitor.run_models`) score
a chamber's run once it is complete (``run_end`` in its last message, or the chamber's next run
started) and its readings are stored, off the event loop.

    >>> # see tests/monitor/test_service.py for a complete run
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from fabmind.domain import Alarm, AlarmState, Contribution, RunTrace
from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.records import IngestReport, QuarantineItem, ReadingBatch, ValidatedMessage
from fabmind.ingest.sink import ReadingSink
from fabmind.ingest.source import RawMessage
from fabmind.ingest.validate import TraceValidator
from fabmind.monitor import repository as repo
from fabmind.monitor.alarms import AlarmManager, AlarmPolicy, AlarmRecord, InControl, Violation
from fabmind.monitor.scoring import ChamberCharts, ChartResult
from fabmind.store.schema import readings

log = logging.getLogger(__name__)

STREAM_SOURCE, STREAM_CODE = "stream.ewma_cusum", "FDC-STREAM"

# (chamber_id, run_id, trace assembled from the stream or None) -> a violation, in control, or None (not scored)
RunScorer = Callable[[str, str, RunTrace | None], Violation | InControl | None]


def _recent() -> deque[float]:
    return deque(maxlen=100_000)  # the latest figures only: a monitor runs for months


@dataclass
class MonitorStats:
    batches: int = 0
    report: IngestReport = field(default_factory=lambda: IngestReport(source="monitor"))
    alarms_raised: int = 0
    alarm_latency_ms: deque[float] = field(default_factory=_recent)  # publish (payload 'sent') -> alarm committed
    decision_latency_ms: deque[float] = field(default_factory=_recent)  # publish -> scored, alarms committed
    store_latency_ms: deque[float] = field(default_factory=_recent)  # publish -> readings committed
    write_failures: int = 0
    # CPU time (thread time, so independent of other processes' load) of the latency-critical steps
    decide_cpu_ms: deque[float] = field(default_factory=_recent)  # per decided batch
    alarm_commit_cpu_ms: deque[float] = field(default_factory=_recent)  # per alarm transaction
    write_cpu_ms_per_message: deque[float] = field(default_factory=_recent)  # per readings transaction
    scoring_errors: int = 0
    runs_scored: int = 0
    runs_unscored: int = 0  # finished runs the stream did not carry whole (monitor started mid-run ...)
    last_write: float | None = None  # clock() at the last committed write


@dataclass
class MonitorConfig:
    warmup: int = 200  # samples per chamber before its charts are fitted (unless a baseline is stored)
    # high-rate traces (10-100 Hz, many sensors) need wide limits: at these settings an in-control
    # chamber with 10 sensors at 100 Hz raises well under one false alarm per day, a 6-sigma step
    # is caught within a few samples
    ewma_lambda: float = 0.05
    ewma_L: float = 5.0
    cusum_k: float = 1.0
    cusum_h: float = 12.0
    clear_ratio: float = 0.8  # hysteresis: clear when the EWMA is back below 0.8 x limit
    max_future_s: float = 300.0
    max_lateness_s: float = 3600.0
    retry_s: float = 0.5
    max_retries: int = 20
    write_batch_rows: int = 20_000  # readings per write transaction at most
    max_queued_rows: int = 400_000  # decided, unwritten readings at most: decisions wait beyond (backpressure)
    sync_s: float = 0.25  # how often operator actions made by other processes (API, CLI) are taken over
    # while run() is active, what is loaded (modules, models) is frozen out of the cyclic GC: full
    # collections over the whole process stalled decisions for 50-200 ms (measured with gc.callbacks
    # in bench/live.py's paced phase); gc_young_threshold optionally changes how often gen 0 is collected
    gc_freeze: bool = True
    gc_young_threshold: int | None = None
    max_run_samples: int = 500_000  # samples of one run kept for run-level scoring (longer: not scored)
    alarm_policy: AlarmPolicy = field(default_factory=AlarmPolicy)


@dataclass
class _Decided:
    """One message after the decide stage, waiting for its durable write."""

    raw: RawMessage | None
    msg: ValidatedMessage
    finished_runs: list[tuple[str, str, RunTrace | None]] = field(default_factory=list)


@dataclass
class _RunBuffer:
    """The samples of a chamber's current run, in chart column order, as the stream delivered them."""

    run_id: str
    sensors: list[str]
    ts_us: list[np.ndarray] = field(default_factory=list)
    X: list[np.ndarray] = field(default_factory=list)
    steps: list[np.ndarray | None] = field(default_factory=list)
    n: int = 0
    overflow: bool = False

    def trace(self, chamber_id: str) -> RunTrace | None:
        """The run as a :class:`RunTrace` (gaps filled from the neighbouring sample), or None."""
        if self.overflow or not self.X:
            return None
        X = np.vstack(self.X)
        t = np.concatenate(self.ts_us)
        seen = np.isfinite(X).any(axis=0)
        if not seen.any():
            return None
        X, names = X[:, seen], [s for s, k in zip(self.sensors, seen) if k]
        X = _fill_gaps(X)
        steps = np.concatenate([np.zeros(len(x), dtype=np.int64) if s is None else s
                                for x, s in zip(self.X, self.steps)])
        dt = float(np.median(np.diff(t))) / 1e6 if len(t) > 1 else 1.0
        return RunTrace(run_id=self.run_id, chamber_id=chamber_id, start=datetime.fromtimestamp(t[0] / 1e6, UTC),
                        dt_s=dt if dt > 0 else 1.0, sensors=tuple(names), values=X.astype(np.float32),
                        step_index=np.clip(steps, 0, 255).astype(np.uint8))


def _fill_gaps(X: np.ndarray) -> np.ndarray:
    """NaN -> the previous sample of that sensor (the next one at the start)."""
    if not np.isnan(X).any():
        return X
    n = len(X)
    idx = np.where(np.isnan(X), 0, np.arange(n)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    X = X[idx, np.arange(X.shape[1])]
    if np.isnan(X).any():  # leading gaps: back-fill
        rev = X[::-1]
        idx = np.where(np.isnan(rev), 0, np.arange(n)[:, None])
        np.maximum.accumulate(idx, axis=0, out=idx)
        X = rev[idx, np.arange(X.shape[1])][::-1]
    return X


@dataclass
class _AlarmChange:
    """Alarm transitions of one decision, to be committed at once (records are written as they are
    when the transaction runs, so a later write never puts back an older state)."""

    records: list[AlarmRecord]
    events: list
    baselines: list[dict]
    raised: list[AlarmRecord]
    sent_by_chamber: dict[str, float]
    decided: list[_Decided] = field(default_factory=list)  # the messages whose decision it completes


class _Writer:
    """The durable-write thread of :meth:`Monitor.run`.

    Alarm transitions go first; readings are written in transactions of at most
    ``write_batch_rows`` readings, ended early at a message boundary when an alarm transition is
    waiting. SQLite's own work runs without the GIL, so scoring on the event loop and writing here
    share the two cores; completions are handed back to the loop (acknowledgements, stats).
    """

    def __init__(self, monitor: Monitor, loop: asyncio.AbstractEventLoop):
        self.m = monitor
        self.loop = loop
        self.cond = threading.Condition()
        self.alarm_jobs: deque[_AlarmChange] = deque()
        self.units: deque[_Decided] = deque()
        self.queued_rows = 0
        self.pending = 0  # jobs (alarm changes + messages) handed over and not yet reported back
        self.error: BaseException | None = None
        self.stopping = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.room = asyncio.Event()
        self.room.set()
        self.failed = asyncio.Event()
        self.thread = threading.Thread(target=self._main, name="fabmind-writer", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------------ loop side
    def submit_alarms(self, change: _AlarmChange) -> None:
        self.pending += 1
        self.idle.clear()
        with self.cond:
            self.alarm_jobs.append(change)
            self.cond.notify()

    def submit(self, decided: list[_Decided]) -> None:
        if not decided:
            return
        self.pending += len(decided)
        self.idle.clear()
        with self.cond:
            self.units.extend(decided)
            self.queued_rows += sum(len(d.msg.readings) for d in decided)
            if self.queued_rows > self.m.config.max_queued_rows:
                self.room.clear()
            self.cond.notify()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.thread.join()

    # ------------------------------------------------------------------ thread side
    def _main(self) -> None:
        m = self.m
        while True:
            with self.cond:
                while not self.alarm_jobs and not self.units and not self.stopping:
                    self.cond.wait()
                if self.stopping and not self.alarm_jobs and not self.units:
                    return
                job = self.alarm_jobs.popleft() if self.alarm_jobs else None
                group: list[_Decided] = []
                if job is None:
                    rows = 0
                    while self.units and (not group or rows + len(self.units[0].msg.readings)
                                          <= m.config.write_batch_rows):
                        rows += len(self.units[0].msg.readings)
                        group.append(self.units.popleft())
            try:
                cpu0 = time.thread_time()
                if job is not None:
                    with m._db_lock:
                        self._retrying(lambda: m._commit_alarms(job), "alarm transitions")
                    m.stats.alarm_commit_cpu_ms.append((time.thread_time() - cpu0) * 1e3)
                    self.loop.call_soon_threadsafe(self._alarms_done, job, m.clock())
                else:
                    with m._db_lock:
                        done = self._retrying(lambda: m.write(group, stop_early=lambda: bool(self.alarm_jobs)),
                                              f"{len(group)} messages")
                    m.stats.write_cpu_ms_per_message.append((time.thread_time() - cpu0) * 1e3 / max(done, 1))
                    written, rest = group[:done], group[done:]
                    with self.cond:
                        self.units.extendleft(reversed(rest))
                    self.loop.call_soon_threadsafe(self._written, written)
            except BaseException as exc:  # gave up: the loop raises it; nothing unwritten is acknowledged
                self.error = exc
                self.loop.call_soon_threadsafe(self._wake_all)
                return

    def _retrying(self, fn: Callable[[], Any], what: str) -> Any:
        c = self.m.config
        for attempt in range(c.max_retries + 1):
            try:
                return fn()
            except Exception:
                log.exception("writing %s failed (attempt %d)", what, attempt + 1)
                if attempt == c.max_retries or self.stopping and self.m._abandon_on_stop:
                    raise
                time.sleep(c.retry_s)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ back on the loop
    def _written(self, units: list[_Decided]) -> None:
        with self.cond:
            self.queued_rows -= sum(len(d.msg.readings) for d in units)
            if self.queued_rows <= self.m.config.max_queued_rows:
                self.room.set()
        self.m._units_written(units)
        self._done(len(units))

    def _alarms_done(self, change: _AlarmChange, committed_at: float) -> None:
        self.m._alarms_committed(change, committed_at)
        self._done(1)

    def _done(self, n: int) -> None:
        self.pending -= n
        if self.pending == 0:
            self.idle.set()

    def _wake_all(self) -> None:
        self.failed.set()
        self.idle.set()
        self.room.set()


class Monitor:
    """Consumes trace messages, scores and stores them per chamber, manages alarms.

    ``on_alarm(alarm) -> str | None`` is called (in a worker thread, after the alarm is stored)
    for every newly raised alarm; a returned text is saved as the alarm's diagnosis, so it is
    waiting when the engineer opens the alarm (the agents room plugs the fault assistant in here).
    ``run_scorers``: run-level models, each ``scorer(chamber_id, run_id, trace)`` called once per
    completed run (``trace``: the run as the stream delivered it, None if it was not seen whole)
    returning a :class:`Violation`, :class:`InControl` (clears that model's open alarm) or None
    (not scored), e.g. :class:`fabmind.monitor.run_models.FdcRunScorer`.
    """

    def __init__(
        self,
        engine: Any,
        catalog: SensorCatalog,
        *,
        config: MonitorConfig | None = None,
        area_of: Callable[[str], str] | None = None,
        on_alarm: Callable[[Alarm], str | None] | None = None,
        run_scorers: Sequence[RunScorer] = (),
        clock: Callable[[], float] = time.time,
    ):
        self.engine = engine
        self.catalog = catalog
        self.config = config or MonitorConfig()
        self.clock = clock
        self.sink = ReadingSink(engine)
        c = self.config
        self.validator = TraceValidator(catalog, max_future_s=c.max_future_s, max_lateness_s=c.max_lateness_s,
                                        clock=clock)
        self.area_of = area_of or (lambda chamber_id: chamber_id.split("-")[0])
        self.alarms = AlarmManager(c.alarm_policy, area_of=self.area_of)
        self.charts: dict[str, ChamberCharts] = {}
        self.on_alarm = on_alarm
        self.run_scorers = list(run_scorers)
        self._runs: dict[str, _RunBuffer] = {}  # chamber -> its current run's samples
        self._inflight: set[tuple[str, str]] = set()  # decided, not yet written (dedup before the ledger has it)
        # open alarms whose repeat counts ride with the next write: alarm id -> (record, change number)
        self._repeats: dict[str, tuple[AlarmRecord, int]] = {}
        self._repeat_seq = 0
        self._dirty: dict[str, int] = {}  # alarm id -> changes handed to the writer, not yet committed
        self._writer: _Writer | None = None  # while run() is active
        self._abandon_on_stop = False
        self._reader: Any = None  # DB-API connection for the decide stage's reads
        self._alarm_conn: Any = None  # the loop's connection for alarm transitions while the writer is idle
        self._db_lock = threading.Lock()  # one writer at a time in this process: writer thread or loop
        self._synced_at = -1e9
        self._diagnose = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnosis") if on_alarm else None
        self._run_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-scoring") if run_scorers else None
        self._run_tasks: set[asyncio.Task] = set()
        self._ack: Callable[[list[RawMessage]], Any] | None = None
        self._ack_tasks: set[asyncio.Task] = set()
        self.stats = MonitorStats()
        self._restore()

    # ------------------------------------------------------------------ start-up
    def _restore(self) -> None:
        """Resume after a restart: open alarms, chart baselines, per-stream high-water marks."""
        self.alarms.restore(repo.load_alarms(self.engine))
        self._baselines = repo.load_baselines(self.engine)
        r = readings.c
        with self.engine.connect() as conn:
            q = select(r.chamber_id, r.sensor, func.max(r.ts)).group_by(r.chamber_id, r.sensor)
            for chamber_id, sensor, ts in conn.execute(q):
                ts = readings.c.ts.type.process_result_value(ts, conn.dialect)
                self.validator.high_water[(chamber_id, sensor)] = round(ts.timestamp() * 1e6)

    def _charts_for(self, chamber_id: str) -> ChamberCharts:
        ch = self.charts.get(chamber_id)
        if ch is None:
            c = self.config
            sensors = sorted(self.catalog.sensors(chamber_id))
            ch = ChamberCharts(chamber_id, sensors, warmup=c.warmup, lam=c.ewma_lambda, L=c.ewma_L, k=c.cusum_k,
                               h=c.cusum_h)
            saved = self._baselines.get(chamber_id, {})
            if sensors and any(s in saved for s in sensors):  # sensors without a saved baseline are not charted
                rows = [saved.get(s, (np.nan, 1.0, 0)) for s in sensors]
                ch.set_baseline(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                                max(r[2] for r in rows))
            self.charts[chamber_id] = ch
        return ch

    # ------------------------------------------------------------------ stage 1: decide
    def _validate(self, messages: Sequence[RawMessage], source: str) -> list[ValidatedMessage]:
        out = []
        for m in messages:
            try:
                out.append(self.validator.validate(source, m.topic, m.payload, fallback_key=m.key))
            except Exception as exc:  # a validator bug must not stop the monitor: keep the message
                log.exception("validator failed on %s", m.topic)
                item = QuarantineItem(source, "message", f"internal: validator error {exc!r}"[:300],
                                      QuarantineItem.clip(m.payload.decode("utf-8", "replace")), 0, msg_key=m.key)
                out.append(ValidatedMessage(source, m.key, ReadingBatch.empty(), [item]))
        return out

    def _stored_or_synced(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which ``keys`` the ledger holds (a plain read on a DB-API connection of its own); every
        ``sync_s`` also takes over operator actions made by other processes."""
        if self._reader is None:
            self._reader = self.engine.raw_connection()
        try:
            stored = {(s, k) for s, ks in _by_source(keys).items() for k in self.sink.known_keys(self._reader, s, ks)}
        finally:
            self._reader.rollback()  # end the read snapshot (SQLite autocommit: a no-op)
        now = time.monotonic()
        if now - self._synced_at >= self.config.sync_s and self.alarms.open:
            with self.engine.connect() as conn:
                self._sync_operator_actions(conn)
            self._synced_at = now
        return stored

    def decide(self, messages: Sequence[RawMessage], source: str = "mqtt") -> tuple[list[_Decided], _AlarmChange | None]:
        """Validate and score a batch; returns the messages to write and the alarm transitions to
        commit now (None if none). Writes nothing; on error the monitor's state is as before."""
        cpu0 = time.thread_time()
        validated = self._validate(messages, source)
        keys = {(m.source, m.msg_key) for m in validated if m.msg_key and len(m.readings)}
        snapshot = self._snapshot()
        try:
            stored = self._stored_or_synced(keys)
            decided, baselines = self._score_all(messages, validated, stored)
        except Exception:
            self._rollback(snapshot)
            raise
        records, events, raised = self.alarms.drain()
        change = None
        if events or baselines:  # transitions are urgent; pending repeat counts go with them
            change = _AlarmChange(self._take_repeats(records), events, baselines, raised,
                                  {d.msg.readings.chamber_id: d.msg.sent for d in decided if d.msg.sent is not None},
                                  decided)
        else:  # repeat counts of open alarms are not urgent: they ride with the next readings write
            for rec in records:
                self._repeat_seq += 1
                self._repeats[rec.alarm.alarm_id] = (rec, self._repeat_seq)
        self.validator.commit()
        for d in decided:
            if d.msg.msg_key and len(d.msg.readings):
                self._inflight.add((d.msg.source, d.msg.msg_key))
        if change is None:  # decided (with an alarm change, when that is committed: see _alarms_committed)
            now = self.clock()
            self.stats.decision_latency_ms.extend((now - d.msg.sent) * 1e3 for d in decided if d.msg.sent is not None)
        self.stats.decide_cpu_ms.append((time.thread_time() - cpu0) * 1e3)
        return decided, change

    def _take_repeats(self, records: list[AlarmRecord]) -> list[AlarmRecord]:
        """``records`` plus every open alarm with a repeat count not yet written (which this write takes)."""
        out = [rec for rec, _ in self._repeats.values()]
        ids = set(self._repeats)
        self._repeats.clear()
        return out + [r for r in records if r.alarm.alarm_id not in ids]

    def _snapshot(self) -> dict:
        return {"charts": {cid: (ch.e.copy(), ch.hi.copy(), ch.lo.copy()) for cid, ch in self.charts.items()},
                "runs": {cid: (b.run_id, b.n, len(b.X)) for cid, b in self._runs.items()}}

    def _score_all(self, messages, validated, stored) -> tuple[list[_Decided], list[dict]]:
        decided: list[_Decided] = []
        baselines: list[dict] = []
        seen: set[tuple[str, str]] = set()
        for raw, m in zip(messages, validated):
            d = _Decided(raw, m)
            decided.append(d)
            key = (m.source, m.msg_key)
            if not len(m.readings) or key in stored or key in self._inflight or key in seen:
                continue  # nothing to score, or a duplicate (the write quarantines it)
            seen.add(key)
            try:
                result = self._score(m.readings)
            except Exception:  # a message that breaks scoring must not block the stream: store it, log it
                log.exception("scoring %s from %s failed; stored unscored", m.msg_key, m.readings.chamber_id)
                self.stats.scoring_errors += 1
                result = None
            if result is not None:
                self._apply(result)
            ch = self.charts.get(m.readings.chamber_id)
            if ch is not None and ch.new_baseline:
                baselines += repo.baseline_rows(ch.chamber_id, ch.sensors, ch.baseline.mean, ch.baseline.spread,
                                                ch.baseline.n)
                ch.new_baseline = False
            d.finished_runs = self._follow_run(m)
        return decided, baselines

    def _rollback(self, snapshot: dict) -> None:
        self.validator.rollback()
        charts, runs_before = snapshot["charts"], snapshot["runs"]
        for cid, (e, hi, lo) in charts.items():
            ch = self.charts[cid]
            ch.e, ch.hi, ch.lo = e, hi, lo
        for cid in [c for c, ch in self.charts.items() if c not in charts or ch.baseline is None]:
            del self.charts[cid]  # warm-up buffers saw the failed batch: learn those chambers again
        for cid in list(self._runs):
            before = runs_before.get(cid)
            buf = self._runs[cid]
            if before is None or before[0] != buf.run_id:
                del self._runs[cid]  # a run the failed batch started: it will come again
            else:
                del buf.X[before[2]:], buf.ts_us[before[2]:], buf.steps[before[2]:]
                buf.n = before[1]
        self.alarms = AlarmManager(self.config.alarm_policy, area_of=self.area_of)
        self.alarms.restore(repo.load_alarms(self.engine))
        self._repeats.clear()

    def _follow_run(self, m: ValidatedMessage) -> list[tuple[str, str, RunTrace | None]]:
        """Add a message's samples to its chamber's current run; returns the runs it completed."""
        b = m.readings
        if not b.run_id or b.dense is None:
            return []
        finished = []
        buf = self._runs.get(b.chamber_id)
        if buf is not None and buf.run_id != b.run_id:  # the chamber's next run started
            finished.append((b.chamber_id, buf.run_id, buf.trace(b.chamber_id)))
            buf = None
        if buf is None:
            buf = self._runs[b.chamber_id] = _RunBuffer(b.run_id, self._charts_for(b.chamber_id).sensors)
        if not buf.overflow:
            X, times = self.charts[b.chamber_id].matrix(b)
            buf.X.append(X)
            buf.ts_us.append(times)
            buf.steps.append(b.dense.steps)
            buf.n += len(times)
            if buf.n > self.config.max_run_samples:
                buf.overflow, buf.X, buf.ts_us, buf.steps = True, [], [], []
        if m.run_end:
            finished.append((b.chamber_id, buf.run_id, buf.trace(b.chamber_id)))
            del self._runs[b.chamber_id]
        return finished

    def _sync_operator_actions(self, conn) -> None:
        """Take over acknowledgements / shelving / clears made by another process (API, CLI); alarms
        with own changes not yet committed are left alone (the store is behind on them)."""
        open_ids = {r.alarm.alarm_id: r for r in self.alarms.open.values()
                    if r.alarm.alarm_id not in self._dirty and r.alarm.alarm_id not in self._repeats}
        for alarm_id, (state, acked_by, until) in repo.open_states(conn, list(open_ids)).items():
            rec = open_ids[alarm_id]
            if state == rec.state.value and acked_by == rec.acked_by:
                continue
            rec.acked_by, rec.shelved_until = acked_by, until
            rec.alarm = rec.alarm.model_copy(update={"state": AlarmState(state)})
            if state == AlarmState.CLEARED.value:
                self.alarms.open.pop(rec.dedup_key, None)

    def _score(self, b: ReadingBatch) -> ChartResult | None:
        if len(b) == 0:
            return None
        return self._charts_for(b.chamber_id).score(b)

    def _apply(self, r: ChartResult) -> None:
        if r.violated:
            ts = datetime.fromtimestamp(r.first_violation_us / 1e6, UTC)
            total = sum(d.ratio for d in r.deviations) or 1.0
            units = {s: self.catalog.sensor(r.chamber_id, s) for s in (d.sensor for d in r.deviations)}
            contribs = tuple(
                Contribution(sensor=d.sensor, feature=d.sensor, contribution=d.ratio / total, value=d.value,
                             expected=d.expected, deviation=d.value - d.expected, deviation_sigma=d.sigma,
                             unit=units[d.sensor].unit if units.get(d.sensor) else "")
                for d in r.deviations[:5]
            )
            top = ", ".join(f"{c.sensor} {c.deviation_sigma:+.1f}σ" for c in contribs[:3])
            self.alarms.violation(Violation(
                r.chamber_id, ts, STREAM_SOURCE, STREAM_CODE, r.max_ratio, 1.0, r.run_id,
                message=f"EWMA/CUSUM chart {r.max_ratio:.2f}x its limit; top sensors: {top}", contributions=contribs))
        elif r.end_ratio < self.config.clear_ratio:
            self.alarms.normal(r.chamber_id, STREAM_SOURCE, STREAM_CODE, datetime.fromtimestamp(self.clock(), UTC))

    # ------------------------------------------------------------------ alarm transitions
    def _commit_alarms(self, change: _AlarmChange, conn: Any = None) -> None:
        """One transaction: the changed alarms as they are now, their events, new chart baselines."""
        if conn is None:
            with self.sink.transaction() as conn:
                self._commit_alarms(change, conn)
            return
        if not conn.in_transaction():
            with conn.begin():
                self._commit_alarms(change, conn)
            return
        repo.write_alarm_changes(conn, change.records, change.events)
        repo.write_baselines(conn, change.baselines)

    def _alarm_connection(self) -> Any:
        if self._alarm_conn is None or self._alarm_conn.closed:
            conn = self.engine.connect()
            if conn.dialect.name == "sqlite":  # as the sink's connection: lock up front, no checkpoint on commit
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                conn.commit()
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            self._alarm_conn = conn
        return self._alarm_conn

    def _hand_over(self, change: _AlarmChange) -> None:
        """Commit now (no writer running, or the writer is between transactions with no alarm
        transition waiting: the loop commits on its own connection) or queue for the writer thread
        (first in its line; it ends its readings transaction at the next message boundary)."""
        if self._writer is None:
            self._commit_alarms(change)
            self._alarms_committed(change, self.clock())
            return
        if not self._writer.alarm_jobs and self._db_lock.acquire(blocking=False):
            cpu0 = time.thread_time()
            try:
                self._commit_alarms(change, self._alarm_connection())
                committed = True
            except Exception:  # e.g. locked by another process: the writer retries it
                log.exception("committing alarm transitions failed; handing them to the writer")
                committed = False
            finally:
                self._db_lock.release()
            if committed:
                self.stats.alarm_commit_cpu_ms.append((time.thread_time() - cpu0) * 1e3)
                self._alarms_committed(change, self.clock(), queued=False)
                return
        for rec in change.records:
            self._dirty[rec.alarm.alarm_id] = self._dirty.get(rec.alarm.alarm_id, 0) + 1
        self._writer.submit_alarms(change)

    def _alarms_committed(self, change: _AlarmChange, committed_at: float, queued: bool = True) -> None:
        if self._writer is not None and queued:
            for rec in change.records:
                n = self._dirty.get(rec.alarm.alarm_id, 0) - 1
                if n > 0:
                    self._dirty[rec.alarm.alarm_id] = n
                else:
                    self._dirty.pop(rec.alarm.alarm_id, None)
        self.stats.decision_latency_ms.extend((committed_at - d.msg.sent) * 1e3 for d in change.decided
                                              if d.msg.sent is not None)
        if change.raised:
            self._announce(change.raised, committed_at, change.sent_by_chamber)

    def _announce(self, raised: list[AlarmRecord], now: float, sent_by_chamber: dict[str, float]) -> None:
        self.stats.alarms_raised += len(raised)
        for rec in raised:
            s = sent_by_chamber.get(rec.alarm.chamber_id)
            if s is not None:
                self.stats.alarm_latency_ms.append((now - s) * 1e3)
            if self._diagnose is not None:
                self._diagnose.submit(self._run_diagnosis, rec.alarm)

    # ------------------------------------------------------------------ stage 2: write
    def write(self, decided: Sequence[_Decided], stop_early: Callable[[], bool] | None = None) -> int:
        """Store decided messages in one transaction (readings, quarantine, ledger, alarm repeat
        counts); returns how many of them it covered (all, unless ``stop_early`` said stop).

        On failure nothing is stored and the decisions stand: call again to retry.
        """
        msgs = [d.msg for d in decided]
        repeats = list(self._repeats.items())  # one C call: safe against the loop thread adding meanwhile
        records = [rec for _, (rec, _) in repeats]  # written as they are at commit time (see _AlarmChange)
        try:
            report, fresh = self.sink.write(
                msgs, also=(lambda conn, _fresh: repo.write_alarm_changes(conn, records, [])) if records else None,
                stop_early=stop_early)
        except Exception:
            self.stats.write_failures += 1
            raise
        done = report.messages
        now = self.clock()
        if self._writer is None:
            self._record_write(decided[:done], report, fresh, now, repeats)
        else:
            self._writer.loop.call_soon_threadsafe(self._record_write, decided[:done], report, fresh, now, repeats)
        return done

    def _record_write(self, decided: Sequence[_Decided], report: IngestReport, fresh: list[ValidatedMessage],
                      now: float, repeats: list = ()) -> None:
        for alarm_id, (_, seq) in repeats:
            if self._repeats.get(alarm_id, (None, -1))[1] == seq:  # no newer repeat since: written
                del self._repeats[alarm_id]
        for d in decided:
            self._inflight.discard((d.msg.source, d.msg.msg_key))
        self.stats.last_write = now
        self.stats.store_latency_ms.extend((now - m.sent) * 1e3 for m in fresh if m.sent is not None)
        self.stats.batches += 1
        self.stats.report.add(report)

    def _units_written(self, units: list[_Decided]) -> None:
        """On the loop, after the writer committed ``units``: acknowledge them, score finished runs."""
        raws = [d.raw for d in units if d.raw is not None]
        if raws and self._ack is not None:
            task = asyncio.ensure_future(self._ack(raws))
            self._ack_tasks.add(task)
            task.add_done_callback(self._ack_tasks.discard)
        finished = [r for d in units for r in d.finished_runs]
        if finished and self.run_scorers:
            task = asyncio.ensure_future(self._score_runs_async(finished))
            self._run_tasks.add(task)
            task.add_done_callback(self._run_tasks.discard)

    def process(self, messages: Sequence[RawMessage], source: str = "mqtt") -> IngestReport:
        """Decide, commit alarms, write and score finished runs for one batch, synchronously.
        Does not acknowledge. Not for use while :meth:`run` is active."""
        snapshot = self._snapshot()
        decided, change = self.decide(messages, source)
        if change is not None:
            try:
                self._hand_over(change)
            except Exception:
                self._rollback(snapshot)
                raise
        before = IngestReport(source=source)
        before.add(self.stats.report)
        done = 0
        while done < len(decided):
            done += self.write(decided[done:])
        finished = [r for d in decided for r in d.finished_runs]
        if finished and self.run_scorers:
            self._apply_run_violations(self._evaluate_runs(finished))
        report = IngestReport(source=source)
        for k in ("messages", "received", "stored", "quarantined", "duplicates"):
            setattr(report, k, getattr(self.stats.report, k) - getattr(before, k))
        report.reasons = {k: v - before.reasons.get(k, 0) for k, v in self.stats.report.reasons.items()
                          if v != before.reasons.get(k, 0)}
        return report

    # ------------------------------------------------------------------ run-level models
    def _evaluate_runs(self, finished: list[tuple[str, str, RunTrace | None]]) -> list[Violation | InControl]:
        """Call every run scorer on every finished run (thread-safe: touches no monitor state but stats)."""
        out = []
        for chamber_id, run_id, trace in finished:
            if trace is None:
                self.stats.runs_unscored += 1
            for scorer in self.run_scorers:
                try:
                    v = scorer(chamber_id, run_id, trace)
                except Exception:  # one model failing must not stop the stream
                    log.exception("run scorer %r failed on %s %s", scorer, chamber_id, run_id)
                    self.stats.scoring_errors += 1
                    continue
                if v is not None:
                    out.append(v)
            self.stats.runs_scored += 1
        return out

    def _apply_run_violations(self, results: list[Violation | InControl]) -> None:
        for v in results:
            if isinstance(v, InControl):
                self.alarms.normal(v.chamber_id, v.source, v.code, v.ts)
            else:
                self.alarms.violation(v)
        records, events, raised = self.alarms.drain()
        if records or events:
            self._hand_over(_AlarmChange(self._take_repeats(records), events, [], raised, {}))

    async def _score_runs_async(self, finished: list[tuple[str, str, RunTrace | None]]) -> None:
        loop = asyncio.get_running_loop()
        violations = await loop.run_in_executor(self._run_pool, self._evaluate_runs, finished)
        try:
            self._apply_run_violations(violations)
        except Exception:  # the alarm write failed: log it, the stream goes on
            log.exception("writing run-level alarms of %d runs failed", len(finished))

    def _run_diagnosis(self, alarm: Alarm) -> None:
        try:
            text = self.on_alarm(alarm) if self.on_alarm else None
            if text:
                repo.save_diagnosis(self.engine, alarm.alarm_id, str(text))
        except Exception:  # the diagnosis is a convenience; it must never stop monitoring
            log.exception("diagnosis of %s failed", alarm.alarm_id)

    # ------------------------------------------------------------------ equipment alarms (SECS/GEM S5F1, ...)
    def equipment_alarm(self, chamber_id: str, code: str, text: str, active: bool, ts: datetime | None = None,
                        severity: int = 3) -> AlarmRecord | None:
        """An alarm reported by the equipment itself goes through the same life cycle."""
        ts = ts or datetime.now(UTC)
        if active:
            rec = self.alarms.violation(Violation(chamber_id, ts, "equipment", code, float(severity), 1.0,
                                                  message=text, severity=severity))
        else:
            rec = self.alarms.normal(chamber_id, "equipment", code, ts)
        self._persist()
        return rec

    # ------------------------------------------------------------------ operator actions (persisted at once)
    def _persist(self) -> None:
        records, events, raised = self.alarms.drain()
        self._hand_over(_AlarmChange(self._take_repeats(records), events, [], raised, {}))

    def acknowledge(self, alarm_id: str, engineer: str, note: str = "") -> Alarm:
        rec = self.alarms.acknowledge(alarm_id, engineer, note)
        self._persist()
        return rec.alarm

    def shelve(self, alarm_id: str, engineer: str, until: datetime, note: str = "") -> Alarm:
        rec = self.alarms.shelve(alarm_id, engineer, until, note)
        self._persist()
        return rec.alarm

    def clear(self, alarm_id: str, engineer: str, note: str = "") -> Alarm:
        rec = self.alarms.clear(alarm_id, engineer, note)
        self._persist()
        return rec.alarm

    # ------------------------------------------------------------------ the loop
    async def run(self, source: Any, *, stop: asyncio.Event | None = None, source_name: str = "mqtt",
                  idle_timeout: float | None = None) -> MonitorStats:
        """Consume ``source.batches()`` until ``stop`` is set (or ``idle_timeout`` s pass with no message).

        Decisions run on the loop as batches arrive; the writer thread stores what is decided and
        the loop acknowledges it. On a normal return everything decided is stored and acknowledged
        and every finished run scored; if the writer gives up, its error is raised and nothing
        unwritten is acknowledged (the broker re-delivers it to the restarted monitor).
        """
        loop = asyncio.get_running_loop()
        self._synced_at = -1e9  # take over operator actions on the first batch
        gc_before = gc.get_threshold()
        if self.config.gc_freeze:
            gc.collect()
            gc.freeze()
        if self.config.gc_young_threshold:
            gc.set_threshold(self.config.gc_young_threshold, *gc_before[1:])
        writer = self._writer = _Writer(self, loop)
        self._ack = source.ack
        halt = asyncio.Event()  # the caller's stop, or the writer gave up

        async def relay() -> None:
            waits = [asyncio.ensure_future(writer.failed.wait())]
            if stop is not None:
                waits.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            halt.set()

        relay_task = asyncio.create_task(relay())
        try:
            async for batch in source.batches(stop=halt, idle_timeout=idle_timeout):
                writer.check()
                decided, change = await self._decide_retrying(batch, source_name)
                if change is not None:
                    self._hand_over(change)
                writer.submit(decided)
                if not writer.room.is_set():
                    await writer.room.wait()  # backpressure: the writer is far behind
            await writer.idle.wait()
            writer.check()
            while self._ack_tasks or self._run_tasks:
                await asyncio.gather(*self._ack_tasks, *self._run_tasks)
            await writer.idle.wait()  # run-level alarms handed over meanwhile
            writer.check()
        except BaseException:
            self._abandon_on_stop = True
            raise
        finally:
            relay_task.cancel()
            await asyncio.get_running_loop().run_in_executor(None, writer.stop)
            self._writer, self._abandon_on_stop = None, False
            self._inflight.clear()
            self._dirty.clear()
            await asyncio.gather(*self._ack_tasks, *self._run_tasks, return_exceptions=True)
            self._ack = None
            gc.set_threshold(*gc_before)
            if self.config.gc_freeze:
                gc.unfreeze()
        return self.stats

    async def _decide_retrying(self, batch: list[RawMessage], source_name: str):
        for attempt in range(self.config.max_retries + 1):
            try:
                return self.decide(batch, source_name)
            except Exception:
                log.exception("scoring a batch of %d messages failed (attempt %d)", len(batch), attempt + 1)
                if attempt == self.config.max_retries:
                    raise  # not acknowledged: the broker re-delivers to the restarted monitor
                await asyncio.sleep(self.config.retry_s)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.sink.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._alarm_conn is not None:
            self._alarm_conn.close()
            self._alarm_conn = None
        for pool in (self._diagnose, self._run_pool):
            if pool is not None:
                pool.shutdown(wait=True)


def _by_source(keys: set[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, k in keys:
        out.setdefault(s, []).append(k)
    return out
