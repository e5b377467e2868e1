"""Alarm life cycle in the style of ISA-18.2: raised -> acknowledged -> shelved / cleared.

* **Deduplication**: one open alarm per dedup key (chamber + source + code); a repeat while it is
  open only counts an occurrence (and escalates severity/priority if the score grew).
* **Return to normal**: the condition going back inside its limits clears the alarm; the next
  violation after a clear raises a *new* alarm (re-alarm), with a new id.
* **Shelving**: an operator shelves an alarm until a time; violations of that key are suppressed
  meanwhile; when the shelf expires the alarm comes back if the condition is still present.
* **Flood suppression**: more than ``flood_limit`` new alarms in ``flood_window_s`` in one area
  raise a single ``ALARM-FLOOD`` alarm and suppress (but record) further raises until the rate
  falls again.
* **Priority** = severity (how far over the limit, 1..4) x consequence (what the chamber's
  failure costs, 1..4, configured per area/equipment type), mapped to low / medium / high / urgent.

Every transition is appended to ``alarm_events`` (via :attr:`AlarmManager.outbox`); the caller
writes the outbox in the same transaction as the data that caused it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fabmind.domain import Alarm, AlarmState, Contribution

PRIORITIES = ("low", "medium", "high", "urgent")


def priority_of(severity: int, consequence: int) -> str:
    """ISA-18.2-style matrix: ``severity x consequence`` (both 1..4) -> priority.

    >>> priority_of(1, 1), priority_of(2, 2), priority_of(3, 3), priority_of(4, 4)
    ('low', 'medium', 'high', 'urgent')
    """
    p = max(1, min(4, severity)) * max(1, min(4, consequence))
    return PRIORITIES[0 if p <= 2 else 1 if p <= 6 else 2 if p <= 11 else 3]


def severity_of(ratio: float) -> int:
    """How far over the control limit: <2x -> 1, <4x -> 2, <8x -> 3, else 4 (as fabmind.models.anomaly.to_alarm)."""
    return 1 if ratio < 2 else 2 if ratio < 4 else 3 if ratio < 8 else 4


@dataclass
class Violation:
    """A detector says: this chamber is out of control (one evaluation)."""

    chamber_id: str
    ts: datetime
    source: str  # 'stream.ewma_cusum', 'mspc', 'secs.s5f1' ...
    code: str
    score: float  # ratio to the limit (>= 1)
    limit: float = 1.0
    run_id: str | None = None
    model_version: str = ""
    message: str = ""
    contributions: tuple[Contribution, ...] = ()
    severity: int | None = None  # default: from score

    @property
    def key(self) -> str:
        return f"{self.chamber_id}|{self.source}|{self.code}"


@dataclass(frozen=True)
class InControl:
    """A detector says: this chamber is back inside its limits for ``source``/``code`` (clears its
    open alarm; run-level scorers return it for a run they scored without a violation)."""

    chamber_id: str
    ts: datetime
    source: str
    code: str


@dataclass
class AlarmRecord:
    """An alarm plus its life-cycle bookkeeping (the ``alarms`` + ``alarm_lifecycle`` rows)."""

    alarm: Alarm
    dedup_key: str
    area: str
    consequence: int
    first_ts: datetime
    last_ts: datetime
    occurrences: int = 1
    max_score: float = 0.0
    acked_by: str | None = None
    acked_at: datetime | None = None
    shelved_until: datetime | None = None
    cleared_at: datetime | None = None
    diagnosis: str | None = None

    @property
    def state(self) -> AlarmState:
        return self.alarm.state

    @property
    def is_open(self) -> bool:
        return self.alarm.state in (AlarmState.RAISED, AlarmState.ACKNOWLEDGED, AlarmState.SHELVED)


@dataclass
class AlarmEvent:
    alarm_id: str
    ts: datetime
    event: str  # raised, repeated, escalated, acknowledged, shelved, unshelved, cleared, suppressed
    state: str
    actor: str = "monitor"
    score: float = 0.0
    note: str = ""


@dataclass
class AlarmPolicy:
    flood_limit: int = 10
    flood_window_s: float = 600.0
    default_consequence: int = 2
    consequence: dict[str, int] = field(default_factory=dict)  # area, equipment type or chamber id -> 1..4


class AlarmManager:
    """Keeps open alarms per dedup key and applies the life-cycle rules; see the module docstring.

    >>> from datetime import datetime, timezone
    >>> m = AlarmManager(area_of=lambda c: "ETCH")
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = m.violation(Violation("ETCH-01/A", t, "stream", "FDC-STREAM", 2.5))
    >>> a.alarm.state.value, a.alarm.priority, m.violation(Violation("ETCH-01/A", t, "stream", "FDC-STREAM", 2.6))
    ('raised', 'medium', None)
    >>> m.normal("ETCH-01/A", "stream", "FDC-STREAM", t).alarm.state.value
    'cleared'
    """

    def __init__(self, policy: AlarmPolicy | None = None, *, area_of: Callable[[str], str] = lambda c: "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.policy = policy or AlarmPolicy()
        self.area_of = area_of
        self.clock = clock
        self.open: dict[str, AlarmRecord] = {}  # dedup key -> open alarm
        self.by_id: dict[str, AlarmRecord] = {}
        self.outbox: list[AlarmRecord] = []  # changed records, to upsert
        self.events: list[AlarmEvent] = []  # transitions, to append
        self.raised: list[AlarmRecord] = []  # newly raised since the last drain (diagnosis hook)
        self._recent: dict[str, deque[datetime]] = {}  # area -> raise times (flood window)
        self._flooding: dict[str, AlarmRecord] = {}
        self._seq = itertools.count(1)
        self.suppressed = 0

    # ------------------------------------------------------------------ helpers
    def _consequence(self, chamber_id: str, area: str) -> int:
        c = self.policy.consequence
        return c.get(chamber_id) or c.get(chamber_id.split("/")[0]) or c.get(area) or self.policy.default_consequence

    def _new_id(self, v: Violation) -> str:
        return f"ALM-{v.ts.strftime('%Y%m%dT%H%M%S%f')}-{v.chamber_id.replace('/', '')}-{next(self._seq)}"

    def _touch(self, rec: AlarmRecord, event: str, ts: datetime, actor: str = "monitor", note: str = "") -> None:
        self.by_id[rec.alarm.alarm_id] = rec
        if rec not in self.outbox:
            self.outbox.append(rec)
        self.events.append(AlarmEvent(rec.alarm.alarm_id, ts, event, rec.alarm.state.value, actor,
                                      rec.alarm.score, note))

    def _set(self, rec: AlarmRecord, **changes) -> None:
        rec.alarm = rec.alarm.model_copy(update=changes)

    def drain(self) -> tuple[list[AlarmRecord], list[AlarmEvent], list[AlarmRecord]]:
        out = (self.outbox, self.events, self.raised)
        self.outbox, self.events, self.raised = [], [], []
        return out

    # ------------------------------------------------------------------ detector input
    def violation(self, v: Violation) -> AlarmRecord | None:
        """Apply one violation; returns the record if a new alarm was raised."""
        self._expire_shelves(v.ts)
        rec = self.open.get(v.key)
        severity = v.severity or severity_of(v.score)
        if rec is not None:
            rec.occurrences += 1
            rec.last_ts = max(rec.last_ts, v.ts)
            if rec.state == AlarmState.SHELVED:
                self.suppressed += 1
                if rec not in self.outbox:
                    self.outbox.append(rec)
                return None
            if severity > rec.alarm.severity:
                self._set(rec, severity=severity, priority=priority_of(severity, rec.consequence), score=v.score,
                          contributions=v.contributions or rec.alarm.contributions)
                rec.max_score = max(rec.max_score, v.score)
                self._touch(rec, "escalated", v.ts, note=f"severity {severity}")
            else:
                rec.max_score = max(rec.max_score, v.score)
                if rec not in self.outbox:
                    self.outbox.append(rec)
            return None
        area = self.area_of(v.chamber_id)
        if self._flood(area, v):
            return None
        consequence = self._consequence(v.chamber_id, area)
        alarm = Alarm(
            alarm_id=self._new_id(v), chamber_id=v.chamber_id, ts=v.ts, source=v.source, code=v.code,
            severity=severity, priority=priority_of(severity, consequence), state=AlarmState.RAISED,
            score=v.score, limit=v.limit, run_id=v.run_id, model_version=v.model_version,
            message=v.message, contributions=v.contributions,
        )
        rec = AlarmRecord(alarm, v.key, area, consequence, v.ts, v.ts, 1, v.score)
        self.open[v.key] = rec
        self._touch(rec, "raised", v.ts)
        self.raised.append(rec)
        return rec

    def normal(self, chamber_id: str, source: str, code: str, ts: datetime) -> AlarmRecord | None:
        """The condition is back inside its limits: clear the open alarm of that key, if any."""
        self._expire_shelves(ts)
        rec = self.open.get(f"{chamber_id}|{source}|{code}")
        if rec is None or rec.state == AlarmState.SHELVED:
            return None
        return self._clear(rec, ts, "monitor", "returned to normal")

    def _clear(self, rec: AlarmRecord, ts: datetime, actor: str, note: str) -> AlarmRecord:
        self._set(rec, state=AlarmState.CLEARED)
        rec.cleared_at = ts
        self.open.pop(rec.dedup_key, None)
        self._touch(rec, "cleared", ts, actor, note)
        return rec

    def _flood(self, area: str, v: Violation) -> bool:
        window = timedelta(seconds=self.policy.flood_window_s)
        times = self._recent.setdefault(area, deque())
        while times and times[0] < v.ts - window:
            times.popleft()
        flood = self._flooding.get(area)
        if flood is not None and flood.is_open and len(times) < self.policy.flood_limit // 2:
            self._clear(flood, v.ts, "monitor", "alarm rate back below the flood limit")
            del self._flooding[area]
            flood = None
        if len(times) >= self.policy.flood_limit:
            self.suppressed += 1
            if flood is None or not flood.is_open:
                fv = Violation(f"{v.chamber_id}", v.ts, "monitor.flood", "ALARM-FLOOD", float(len(times) + 1),
                               float(self.policy.flood_limit), message=(
                                   f"alarm flood in area {area or '(all)'}: > {self.policy.flood_limit} alarms in "
                                   f"{self.policy.flood_window_s:g} s; further raises suppressed"), severity=3)
                consequence = self._consequence(v.chamber_id, area)
                alarm = Alarm(alarm_id=self._new_id(fv), chamber_id=fv.chamber_id, ts=fv.ts, source=fv.source,
                              code=fv.code, severity=3, priority=priority_of(3, consequence), score=fv.score,
                              limit=fv.limit, message=fv.message)
                flood = AlarmRecord(alarm, f"{area}|monitor.flood|ALARM-FLOOD", area, consequence, v.ts, v.ts, 1,
                                    fv.score)
                self._flooding[area] = flood
                self.open[flood.dedup_key] = flood
                self._touch(flood, "raised", v.ts)
                self.raised.append(flood)
            else:
                flood.occurrences += 1
                flood.last_ts = v.ts
                if flood not in self.outbox:
                    self.outbox.append(flood)
            self.events.append(AlarmEvent(flood.alarm.alarm_id, v.ts, "suppressed", flood.alarm.state.value,
                                          "monitor", v.score, f"suppressed {v.key}"))
            return True
        times.append(v.ts)
        return False

    def _expire_shelves(self, now: datetime) -> None:
        for rec in [r for r in self.open.values() if r.state == AlarmState.SHELVED]:
            if rec.shelved_until is not None and rec.shelved_until <= now:
                rec.shelved_until = None
                self._set(rec, state=AlarmState.ACKNOWLEDGED if rec.acked_by else AlarmState.RAISED)
                self._touch(rec, "unshelved", now, note="shelf expired")

    # ------------------------------------------------------------------ operator actions
    def _get(self, alarm_id: str) -> AlarmRecord:
        rec = self.by_id.get(alarm_id)
        if rec is None:
            raise KeyError(f"no alarm {alarm_id!r} known to the monitor")
        return rec

    def acknowledge(self, alarm_id: str, engineer: str, note: str = "") -> AlarmRecord:
        rec = self._get(alarm_id)
        now = self.clock()
        rec.acked_by, rec.acked_at = engineer, now
        if rec.state == AlarmState.RAISED:
            self._set(rec, state=AlarmState.ACKNOWLEDGED)
        self._touch(rec, "acknowledged", now, engineer, note)
        return rec

    def shelve(self, alarm_id: str, engineer: str, until: datetime, note: str = "") -> AlarmRecord:
        rec = self._get(alarm_id)
        if not rec.is_open:
            raise ValueError(f"alarm {alarm_id} is {rec.state.value}; only open alarms can be shelved")
        rec.shelved_until = until
        self._set(rec, state=AlarmState.SHELVED)
        self._touch(rec, "shelved", self.clock(), engineer, note or f"until {until.isoformat()}")
        return rec

    def unshelve(self, alarm_id: str, engineer: str) -> AlarmRecord:
        rec = self._get(alarm_id)
        if rec.state == AlarmState.SHELVED:
            rec.shelved_until = None
            self._set(rec, state=AlarmState.ACKNOWLEDGED if rec.acked_by else AlarmState.RAISED)
            self._touch(rec, "unshelved", self.clock(), engineer)
        return rec

    def clear(self, alarm_id: str, engineer: str, note: str = "") -> AlarmRecord:
        rec = self._get(alarm_id)
        if not rec.is_open:
            return rec
        return self._clear(rec, self.clock(), engineer, note or "cleared by engineer")

    # ------------------------------------------------------------------ persistence
    def restore(self, records: list[AlarmRecord]) -> None:
        """Reload alarms from the store after a restart (open ones resume deduplication)."""
        for rec in records:
            self.by_id[rec.alarm.alarm_id] = rec
            if rec.is_open:
                self.open[rec.dedup_key] = rec
                if rec.alarm.source == "monitor.flood":
                    self._flooding[rec.area] = rec

