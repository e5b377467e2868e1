"""Typed results of the ingest layer: columnar reading batches, quarantine items, reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DenseBlock:
    """The accepted readings of one message as a samples x sensors block (message column order).

    Kept next to the columnar form so the monitor scores and the sink writes a message without
    regrouping its readings: ``X[i, j]`` is sensor ``sensors[j]`` at ``ts_us[i]``, NaN where that
    reading was quarantined; ``complete`` says no cell is NaN; ``steps`` is the recipe step index
    of each sample when the payload carried one (run-level indicators need it).
    """

    sensors: list[str]
    ts_us: np.ndarray  # int64 [n_rows], strictly increasing
    X: np.ndarray  # float64 [n_rows, n_cols]
    complete: bool
    steps: np.ndarray | None = None  # int [n_rows]


@dataclass
class ReadingBatch:
    """Readings of one chamber in columnar form (validated or not yet).

    ``ts_us`` is UTC microseconds since the epoch: integers make the natural key
    ``(chamber_id, sensor, ts_us)`` exact, so a replay maps onto the same row. Validated live
    messages also carry the same readings as a :class:`DenseBlock` (``dense``).
    """

    chamber_id: str
    sensor: np.ndarray  # object[str] [n]
    ts_us: np.ndarray  # int64 [n]
    value: np.ndarray  # float64 [n]
    run_id: str | None = None
    dense: DenseBlock | None = None

    def __len__(self) -> int:
        return int(self.ts_us.shape[0])

    @classmethod
    def empty(cls, chamber_id: str = "") -> ReadingBatch:
        return cls(chamber_id, np.empty(0, dtype=object), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))

    def take(self, mask: np.ndarray) -> ReadingBatch:
        return ReadingBatch(self.chamber_id, self.sensor[mask], self.ts_us[mask], self.value[mask], self.run_id)

    def rows(self) -> list[tuple[str, str, int, float, str | None]]:
        """``(chamber_id, sensor, ts_us, value, run_id)`` tuples for a DB-API ``executemany``."""
        n = len(self)
        return list(
            zip([self.chamber_id] * n, self.sensor.tolist(), self.ts_us.tolist(), self.value.tolist(), [self.run_id] * n)
        )


@dataclass
class QuarantineItem:
    """Records rejected at the boundary, kept with the reason and (a sample of) the raw payload.

    ``n_readings`` says how many readings the item stands for (0 for a message whose readings
    could not even be counted, e.g. malformed JSON), so counts reconcile:
    ``received = stored + quarantined``.
    """

    source: str
    kind: str  # 'message', 'reading', 'lot', 'run', ...
    reason: str
    payload: str
    n_readings: int = 1
    chamber_id: str | None = None
    sensor: str | None = None
    msg_key: str | None = None

    MAX_PAYLOAD = 4096

    @staticmethod
    def clip(payload: Any) -> str:
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        if len(text) > QuarantineItem.MAX_PAYLOAD:
            return text[: QuarantineItem.MAX_PAYLOAD] + f"...(+{len(text) - QuarantineItem.MAX_PAYLOAD} chars)"
        return text


@dataclass
class ValidatedMessage:
    """One incoming message after validation: what may be stored and what was rejected."""

    source: str
    msg_key: str
    readings: ReadingBatch
    quarantine: list[QuarantineItem] = field(default_factory=list)
    n_received: int = 0  # readings the message carried (0 if it could not be parsed)
    sent: float | None = None  # publisher clock (epoch s), for latency figures
    run_end: bool = False  # the payload said the run ends with this message


@dataclass
class IngestReport:
    """Counts of one ingest run. ``received == stored + quarantined`` (duplicates are quarantined)."""

    source: str
    messages: int = 0
    received: int = 0
    stored: int = 0
    quarantined: int = 0
    duplicates: int = 0  # part of ``quarantined``: already stored (replay / redelivery)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestReport) -> None:
        self.messages += other.messages
        self.received += other.received
        self.stored += other.stored
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    @property
    def reconciled(self) -> bool:
        return self.received == self.stored + self.quarantined
