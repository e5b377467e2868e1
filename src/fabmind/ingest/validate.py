"""Validation of trace messages: every reading is either accepted or quarantined with a reason.

Checks, in order (the first failing check names the reason):

* message: size <= 1 MiB (``oversize``), topic follows the scheme (``bad_topic``), UTF-8 JSON
  object (``malformed_json``), fields with the right types and shapes (``bad_schema``), known
  chamber (``unknown_chamber``);
* sample time: parseable, not beyond ``now + max_future_s`` (``future_ts``), strictly increasing
  within the message and not older than the stream's high-water mark minus ``max_lateness_s``
  (``out_of_order``);
* value: known sensor for the chamber's equipment type (``unknown_sensor``), a number
  (``not_a_number``), finite (``nan``), inside the sensor's valid range (``out_of_range``).

Duplicates (a message id already stored, readings already stored) are decided by the sink,
which sees the database.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import numpy as np

from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.payload import MAX_PAYLOAD_BYTES, chamber_of_topic, loads
from fabmind.ingest.records import DenseBlock, QuarantineItem, ReadingBatch, ValidatedMessage

_NUMERIC = {float, int}
_NO_TS = np.iinfo(np.int64).min  # an unparseable sample time


def _ts_to_us(raw: list) -> np.ndarray:
    """Epoch seconds (numbers) or ISO-8601 strings -> int64 microseconds; bad entries -> INT64_MIN."""
    out = np.full(len(raw), np.iinfo(np.int64).min, dtype=np.int64)
    if set(map(type, raw)) <= _NUMERIC:
        arr = np.asarray(raw, dtype=np.float64)
        ok = np.isfinite(arr) & (np.abs(arr) < 1e11)
        out[ok] = np.round(arr[ok] * 1e6).astype(np.int64)
        return out
    for i, t in enumerate(raw):
        try:
            if type(t) in _NUMERIC and math.isfinite(t) and abs(t) < 1e11:
                out[i] = round(t * 1e6)
            elif isinstance(t, str):
                d = datetime.fromisoformat(t)
                d = d.replace(tzinfo=UTC) if d.tzinfo is None else d
                out[i] = round(d.timestamp() * 1e6)
        except (ValueError, OverflowError):
            pass
    return out


class TraceValidator:
    """Turns raw trace messages into :class:`ValidatedMessage` (accepted readings + quarantine).

    Keeps one high-water mark per ``(chamber, sensor)``; marks move only when the caller
    :meth:`commit`s what it stored, so a batch that failed to store can be re-validated.
    """

    def __init__(
        self,
        catalog: SensorCatalog,
        *,
        max_future_s: float = 300.0,
        max_lateness_s: float = 3600.0,
        clock=time.time,
    ):
        self.catalog = catalog
        self.max_future_us = int(max_future_s * 1e6)
        self.max_lateness_us = int(min(max_lateness_s, 1e12) * 1e6)  # inf: no lateness limit
        self.clock = clock
        self.high_water: dict[tuple[str, str], int] = {}
        self._pending: dict[tuple[str, str], int] = {}
        self._limit_cache: dict[tuple[str, tuple[str, ...]], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ marks
    def mark(self, chamber_id: str, sensor: str) -> int | None:
        key = (chamber_id, sensor)
        p, h = self._pending.get(key), self.high_water.get(key)
        if p is None:
            return h
        return p if h is None else max(p, h)

    def commit(self) -> None:
        for k, v in self._pending.items():
            if v > self.high_water.get(k, v - 1):
                self.high_water[k] = v
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()

    # ------------------------------------------------------------------ messages
    def validate(self, source: str, topic: str, payload: bytes, *, fallback_key: str = "") -> ValidatedMessage:
        """Validate one message; never raises on bad input (the reason goes to quarantine)."""

        def reject(code: str, detail: str, body: str, n: int = 0, chamber: str | None = None) -> ValidatedMessage:
            item = QuarantineItem(source, "message", f"{code}: {detail}", QuarantineItem.clip(body), n, chamber,
                                  msg_key=key)
            return ValidatedMessage(source, key, ReadingBatch.empty(chamber or ""), [item], n_received=n)

        key = fallback_key
        if len(payload) > MAX_PAYLOAD_BYTES:
            head = payload[:256].decode("utf-8", "replace")
            return reject("oversize", f"{len(payload)} bytes > limit {MAX_PAYLOAD_BYTES}", head)
        chamber_id = chamber_of_topic(topic)
        if chamber_id is None:
            return reject("bad_topic", f"topic {topic!r} is not <root>/<area>/<tool>/<chamber>/trace", _text(payload))
        try:
            body = loads(payload)
        except (ValueError, RecursionError) as exc:
            return reject("malformed_json", str(exc)[:200], _text(payload), chamber=chamber_id)
        if not isinstance(body, dict):
            return reject("bad_schema", f"payload is a JSON {type(body).__name__}, expected an object", _text(payload),
                          chamber=chamber_id)
        msg_id = body.get("msg_id")
        if isinstance(msg_id, str) and 0 < len(msg_id) <= 200:
            key = msg_id
        sensors, ts, values = body.get("sensors"), body.get("ts"), body.get("values")
        problem = _schema_problem(sensors, ts, values, body.get("run_id")) or _run_fields_problem(body)
        if problem:
            n = len(ts) * len(sensors) if isinstance(ts, list) and isinstance(sensors, list) else 0
            return reject("bad_schema", problem, _text(payload), n, chamber_id)
        n = len(ts) * len(sensors)
        if not self.catalog.knows_chamber(chamber_id):
            return reject("unknown_chamber", f"chamber {chamber_id!r} is not in the catalog", _text(payload), n,
                          chamber_id)
        sent = body.get("sent")
        sent = float(sent) if type(sent) in _NUMERIC else None
        msg = self._validate_values(source, key, chamber_id, sensors, ts, values, body.get("run_id"),
                                    body.get("step"))
        msg.sent = sent
        msg.run_end = body.get("run_end") is True
        return msg

    def validate_columns(self, source: str, key: str, chamber_id: str, sensors: list[str], ts: list,
                         values: list[list], run_id: str | None = None) -> ValidatedMessage:
        """Validate already-parsed columns of one chamber (file imports, OPC UA, SECS/GEM)."""
        problem = _schema_problem(sensors, ts, values, run_id)
        if problem or not self.catalog.knows_chamber(chamber_id):
            code, detail = ("bad_schema", problem) if problem else ("unknown_chamber", f"chamber {chamber_id!r} is not in the catalog")
            n = len(ts) * len(sensors) if isinstance(ts, list) and isinstance(sensors, list) else 0
            item = QuarantineItem(source, "message", f"{code}: {detail}",
                                  QuarantineItem.clip({"chamber_id": chamber_id, "sensors": sensors, "n": n}), n,
                                  chamber_id, msg_key=key)
            return ValidatedMessage(source, key, ReadingBatch.empty(chamber_id), [item], n_received=n)
        return self._validate_values(source, key, chamber_id, sensors, ts, values, run_id)

    def _validate_values(self, source, key, chamber_id, sensors, ts, values, run_id, step=None) -> ValidatedMessage:
        """Every reading checked at once (whole-matrix numpy); the per-sensor grouping of the
        reasons runs only for a message that has rejects."""
        n_rows, n_cols = len(ts), len(sensors)
        ts_us = _ts_to_us(ts)
        row_ok = ts_us != _NO_TS
        row_code = np.where(row_ok, "", "bad_schema").astype("<U16")
        now_us = int(self.clock() * 1e6)
        future = row_ok & (ts_us > now_us + self.max_future_us)
        row_code[future] = "future_ts"
        row_ok &= ~future
        # strictly increasing within the message (repeats and steps back are out of order)
        if n_rows > 1:
            running = np.maximum.accumulate(np.where(row_ok, ts_us, _NO_TS))
            back = np.zeros(n_rows, dtype=bool)
            back[1:] = row_ok[1:] & (ts_us[1:] <= running[:-1])
            row_code[back] = "out_of_order"
            row_ok &= ~back

        arr, typed = _value_matrix(values, n_rows, n_cols)
        known, low, high = self._limits(chamber_id, sensors)
        marks = np.array([self.mark(chamber_id, s) if k else None for s, k in zip(sensors, known)], dtype=object)
        has_mark = np.array([m is not None for m in marks], dtype=bool)
        floor = np.where(has_mark, [m if m is not None else 0 for m in marks], _NO_TS).astype(np.int64)
        floor[has_mark] -= min(self.max_lateness_us, 2**62)
        late = row_ok[:, None] & known[None, :] & (ts_us[:, None] < floor[None, :])
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(arr)
            in_range = (arr >= low) & (arr <= high)
        accept = row_ok[:, None] & known[None, :] & ~late & typed & finite & in_range
        complete = bool(accept.all())
        items: list[QuarantineItem] = []
        if not complete:
            items = self._quarantine_items(source, key, chamber_id, sensors, ts, values, row_ok, row_code, known,
                                           late, typed, finite, in_range, accept, low, high)
        # marks move with what is accepted (kept pending until the caller commits)
        last = np.where(accept, ts_us[:, None], _NO_TS).max(axis=0) if n_rows else np.full(n_cols, _NO_TS)
        for name, t in zip(sensors, last.tolist()):
            if t != _NO_TS:
                k = (chamber_id, name)
                if t > self._pending.get(k, t - 1):
                    self._pending[k] = t

        # sensor-major order: the readings table's key is (chamber, sensor, ts), so inserting each
        # sensor's samples in time order appends to the B-tree (about 1.6x faster on SQLite)
        sensor_arr = np.asarray(sensors, dtype=object)
        if complete:
            batch = ReadingBatch(chamber_id, np.repeat(sensor_arr, n_rows), np.tile(ts_us, n_cols),
                                 arr.T.ravel(), run_id)
            X = arr
        else:
            jj, ii = np.nonzero(accept.T)
            batch = ReadingBatch(chamber_id, sensor_arr[jj], ts_us[ii], arr[ii, jj], run_id)
            X = np.where(accept, arr, np.nan)
        if len(batch):
            steps = _steps(step, n_rows)
            if not complete:  # samples with nothing accepted are no samples
                rows = accept.any(axis=1)
                ts_us, X, steps = ts_us[rows], X[rows], None if steps is None else steps[rows]
            batch.dense = DenseBlock(list(sensors), ts_us, X, complete, steps)
        return ValidatedMessage(source, key, batch, items, n_received=n_rows * n_cols)

    def _limits(self, chamber_id: str, sensors: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ck = (chamber_id, tuple(sensors))
        hit = self._limit_cache.get(ck)
        if hit is None:
            hit = self.catalog.limits(chamber_id, list(sensors))
            if len(self._limit_cache) > 4096:
                self._limit_cache.clear()
            self._limit_cache[ck] = hit
        return hit

    def _quarantine_items(self, source, key, chamber_id, sensors, ts, values, row_ok, row_code, known, late, typed,
                          finite, in_range, accept, low, high) -> list[QuarantineItem]:
        """One item per (reason, sensor): the first failing check of each rejected reading names it."""
        n_rows, n_cols = accept.shape
        codes = np.full((n_rows, n_cols), "", dtype="<U16")
        # later assignments win: write the checks in reverse order of precedence
        codes[~in_range] = "out_of_range"
        codes[~finite] = "not_finite"
        codes[~typed] = "not_a_number"
        codes[late] = "out_of_order"
        codes[row_ok[:, None] & ~known[None, :]] = "unknown_sensor"
        codes[~row_ok, :] = row_code[~row_ok, None]
        groups: Counter[tuple[str, str, str]] = Counter()  # (code, sensor, detail) -> count
        examples: dict[tuple[str, str, str], list] = {}
        for j in np.flatnonzero(~accept.all(axis=0)).tolist():
            name = sensors[j]
            col = codes[:, j]
            bad = ~accept[:, j]
            for code in sorted(set(col[bad].tolist())):
                rows = np.flatnonzero(bad & (col == code))
                gk = (code, name, _detail(code, name, chamber_id, low[j], high[j], self))
                groups[gk] += int(rows.size)
                examples[gk] = [[ts[i], values[i][j]] for i in rows[:5].tolist()]
        return [
            QuarantineItem(source, "reading", f"{code}: {detail}",
                           QuarantineItem.clip({"msg_id": key, "sensor": sensor, "samples": examples[(code, sensor, detail)]}),
                           count, chamber_id, sensor, key)
            for (code, sensor, detail), count in groups.items()
        ]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "replace")


def _value_matrix(values: list, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(float64 matrix, typed mask)``: only JSON numbers (int/float, not bool) are typed."""
    if set(map(type, chain.from_iterable(values))) <= _NUMERIC:
        try:
            return (np.asarray(values, dtype=np.float64).reshape(n_rows, n_cols),
                    np.ones((n_rows, n_cols), dtype=bool))
        except (OverflowError, ValueError):
            pass
    arr = np.full((n_rows, n_cols), np.nan)
    typed = np.zeros((n_rows, n_cols), dtype=bool)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if type(v) in _NUMERIC:
                try:
                    arr[i, j] = float(v)
                    typed[i, j] = True
                except OverflowError:
                    pass
    return arr, typed


def _steps(step: Any, n_rows: int) -> np.ndarray | None:
    if step is None:
        return None
    if type(step) is int:
        return np.full(n_rows, step, dtype=np.int64)
    return np.asarray(step, dtype=np.int64)


def _run_fields_problem(body: dict) -> str | None:
    """``step`` (one int or one per sample, 0..255) and ``run_end`` (bool) are optional."""
    step, n = body.get("step"), len(body["ts"])
    if step is not None:
        ok_int = lambda v: type(v) is int and 0 <= v < 256  # noqa: E731
        if not (ok_int(step) or (isinstance(step, list) and len(step) == n and all(map(ok_int, step)))):
            return f"'step' must be a step index 0..255 or a list of {n} of them (one per ts)"
    if "run_end" in body and type(body["run_end"]) is not bool:
        return "'run_end' must be true or false"
    return None


def _detail(code: str, sensor: str, chamber_id: str, low: float, high: float, v: TraceValidator) -> str:
    where = f"{chamber_id}:{sensor}"
    return {
        "bad_schema": f"unparseable sample time ({where})",
        "future_ts": f"sample time more than {v.max_future_us / 1e6:g} s in the future ({where})",
        "out_of_order": f"sample time not after the previous sample / older than the stream's high-water mark ({where})",
        "unknown_sensor": f"sensor {sensor!r} is not defined for chamber {chamber_id}",
        "not_a_number": f"value is not a number ({where})",
        "not_finite": f"value is NaN or infinite ({where})",
        "out_of_range": f"value outside valid range {low:g}..{high:g} ({where})",
    }[code]


def _schema_problem(sensors, ts, values, run_id) -> str | None:
    if not isinstance(sensors, list) or not sensors or not all(isinstance(s, str) and s for s in sensors):
        return "'sensors' must be a non-empty list of sensor names"
    if len(set(sensors)) != len(sensors):
        return "'sensors' lists a sensor twice"
    if not isinstance(ts, list) or not ts:
        return "'ts' must be a non-empty list of sample times"
    if not isinstance(values, list) or len(values) != len(ts):
        return f"'values' must be a list with one row per ts ({len(ts)})"
    n = len(sensors)
    if not all(isinstance(r, list) and len(r) == n for r in values):
        return f"every row of 'values' must be a list of {n} values (one per sensor)"
    if run_id is not None and not (isinstance(run_id, str) and 0 < len(run_id) <= 96):
        return "'run_id' must be a string id"
    return None
