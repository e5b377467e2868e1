"""The streaming monitor: messages in -> validated, stored, scored, alarmed -> acknowledged to the source.

One batch of messages is handled as a unit: validate (quarantine the bad), score the good
readings per chamber, update alarms, then write readings + quarantine + dedup ledger + alarm
changes + new chart baselines in **one** transaction; only then are the messages acknowledged
to the broker and the in-memory state (high-water marks, chart state) kept. If the write fails
the state is rolled back and the batch retried; if the process dies, the broker re-delivers the
unacknowledged messages and the dedup ledger turns any already-stored one into a recorded
duplicate. Nothing is lost, nothing is stored twice.

    >>> # see tests/monitor/test_service.py for a complete run
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from fabmind.domain import Alarm, AlarmState, Contribution
from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.records import IngestReport, QuarantineItem, ReadingBatch, ValidatedMessage
from fabmind.ingest.sink import ReadingSink
from fabmind.ingest.source import RawMessage
from fabmind.ingest.validate import TraceValidator
from fabmind.monitor import repository as repo
from fabmind.monitor.alarms import AlarmManager, AlarmPolicy, AlarmRecord, Violation
from fabmind.monitor.scoring import ChamberCharts, ChartResult
from fabmind.store.schema import readings

log = logging.getLogger(__name__)

STREAM_SOURCE, STREAM_CODE = "stream.ewma_cusum", "FDC-STREAM"


@dataclass
class MonitorStats:
    batches: int = 0
    report: IngestReport = field(default_factory=lambda: IngestReport(source="monitor"))
    alarms_raised: int = 0
    alarm_latency_ms: list[float] = field(default_factory=list)  # publish (payload 'sent') -> alarm committed
    store_latency_ms: list[float] = field(default_factory=list)  # publish -> readings committed
    write_failures: int = 0
    scoring_errors: int = 0


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
    alarm_policy: AlarmPolicy = field(default_factory=AlarmPolicy)


class Monitor:
    """Consumes trace messages, stores and scores them per chamber, manages alarms.

    ``on_alarm(alarm) -> str | None`` is called (in a worker thread, after the alarm is stored)
    for every newly raised alarm; a returned text is saved as the alarm's diagnosis, so it is
    waiting when the engineer opens the alarm (the agents room plugs the fault assistant in here).
    """

    def __init__(
        self,
        engine: Engine,
        catalog: SensorCatalog,
        *,
        config: MonitorConfig | None = None,
        area_of: Callable[[str], str] | None = None,
        on_alarm: Callable[[Alarm], str | None] | None = None,
        run_scorers: Sequence[Callable[[str, str], Violation | None]] = (),
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
        # run-level models (FDC MSPC on run indicators, PdM risk ...): called with (chamber_id, run_id)
        # once a chamber's run is complete (its next run started), after the run's readings are stored
        self.run_scorers = list(run_scorers)
        self._current_run: dict[str, str] = {}
        self._diagnose = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnosis") if on_alarm else None
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

    # ------------------------------------------------------------------ one batch
    def process(self, messages: Sequence[RawMessage], source: str = "mqtt") -> IngestReport:
        """Validate, score, alarm and store one batch (one transaction). Does not acknowledge."""
        validated = []
        for m in messages:
            try:
                validated.append(self.validator.validate(source, m.topic, m.payload, fallback_key=m.key))
            except Exception as exc:  # a validator bug must not stop the monitor: keep the message
                log.exception("validator failed on %s", m.topic)
                item = QuarantineItem(source, "message", f"internal: validator error {exc!r}"[:300],
                                      QuarantineItem.clip(m.payload.decode("utf-8", "replace")), 0, msg_key=m.key)
                validated.append(ValidatedMessage(source, m.key, ReadingBatch.empty(), [item]))
        snapshot = {cid: (ch.e.copy(), ch.hi.copy(), ch.lo.copy()) for cid, ch in self.charts.items()}
        pending_raised: list[AlarmRecord] = []

        def score_and_alarm(conn: Connection, fresh: list[ValidatedMessage]) -> None:
            self._sync_operator_actions(conn)
            baselines: list[dict] = []
            for m in fresh:
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
            records, events, raised = self.alarms.drain()
            pending_raised.extend(raised)
            repo.write_alarm_changes(conn, records, events)
            repo.write_baselines(conn, baselines)

        try:
            report, fresh = self.sink.write(validated, also=score_and_alarm)
        except Exception:
            self.validator.rollback()
            for cid, (e, hi, lo) in snapshot.items():
                ch = self.charts[cid]
                ch.e, ch.hi, ch.lo = e, hi, lo
            for cid in [c for c, ch in self.charts.items() if c not in snapshot or ch.baseline is None]:
                del self.charts[cid]  # warm-up buffers saw the failed batch: learn those chambers again
            self.alarms = AlarmManager(self.config.alarm_policy, area_of=self.area_of)
            self.alarms.restore(repo.load_alarms(self.engine))
            self.stats.write_failures += 1
            raise
        self.validator.commit()
        finished = []
        for m in fresh:
            chamber_id, run_id = m.readings.chamber_id, m.readings.run_id
            if run_id and len(m.readings):
                previous = self._current_run.get(chamber_id)
                if previous is not None and previous != run_id:
                    finished.append((chamber_id, previous))
                self._current_run[chamber_id] = run_id
        if finished and self.run_scorers:
            self._score_runs(finished)
        now = self.clock()
        sent = [m.sent for m in fresh if m.sent is not None]
        self.stats.store_latency_ms.extend((now - s) * 1e3 for s in sent)
        if pending_raised:
            self.stats.alarms_raised += len(pending_raised)
            by_chamber = {m.readings.chamber_id: m.sent for m in fresh if m.sent is not None}
            for rec in pending_raised:
                s = by_chamber.get(rec.alarm.chamber_id)
                if s is not None:
                    self.stats.alarm_latency_ms.append((now - s) * 1e3)
                if self._diagnose is not None:
                    self._diagnose.submit(self._run_diagnosis, rec.alarm)
        self.stats.batches += 1
        self.stats.report.add(report)
        return report

    def _sync_operator_actions(self, conn: Connection) -> None:
        """Take over acknowledgements / shelving / clears made by another process (API, CLI)."""
        open_ids = {r.alarm.alarm_id: r for r in self.alarms.open.values()}
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

    def _score_runs(self, finished: list[tuple[str, str]]) -> None:
        for chamber_id, run_id in finished:
            for scorer in self.run_scorers:
                try:
                    v = scorer(chamber_id, run_id)
                except Exception:  # one model failing must not stop the stream
                    log.exception("run scorer %r failed on %s %s", scorer, chamber_id, run_id)
                    self.stats.scoring_errors += 1
                    continue
                if v is not None:
                    self.alarms.violation(v)
        records, events, raised = self.alarms.drain()
        if records or events:
            with self.engine.begin() as conn:
                repo.write_alarm_changes(conn, records, events)
        for rec in raised:
            self.stats.alarms_raised += 1
            if self._diagnose is not None:
                self._diagnose.submit(self._run_diagnosis, rec.alarm)

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
        records, events, raised = self.alarms.drain()
        with self.engine.begin() as conn:
            repo.write_alarm_changes(conn, records, events)
        for r in raised:
            self.stats.alarms_raised += 1
            if self._diagnose is not None:
                self._diagnose.submit(self._run_diagnosis, r.alarm)
        return rec

    # ------------------------------------------------------------------ operator actions (persisted at once)
    def _persist(self) -> None:
        records, events, _ = self.alarms.drain()
        with self.engine.begin() as conn:
            repo.write_alarm_changes(conn, records, events)

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
        """Consume ``source.batches()`` until ``stop`` is set (or ``idle_timeout`` s pass with no message)."""
        async for batch in source.batches(stop=stop, idle_timeout=idle_timeout):
            for attempt in range(self.config.max_retries + 1):
                try:
                    self.process(batch, source_name)
                    break
                except Exception:
                    log.exception("storing a batch of %d messages failed (attempt %d)", len(batch), attempt + 1)
                    if attempt == self.config.max_retries:
                        raise  # not acknowledged: the broker re-delivers to the restarted monitor
                    await asyncio.sleep(self.config.retry_s)
            await source.ack(batch)
        return self.stats

    def close(self) -> None:
        self.sink.close()
        if self._diagnose is not None:
            self._diagnose.shutdown(wait=True)
