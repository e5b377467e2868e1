"""SECS/GEM over HSMS (secsgem), the fab equipment protocol: fabmind as the *host*.

The host connects to the equipment (HSMS active mode), establishes communication (S1F13),
defines and links event reports and enables them (S2F33 / S2F35 / S2F37), enables alarms
(S5F3) and then receives:

* **S6F11** event reports: the report's data values (DVIDs mapped to sensor names) become one
  sample of the chamber at receive time;
* **S6F1** trace data: ``TRID`` selects the sensor list, ``STIME`` (``YYYYMMDDhhmmsscc``) the
  sample time, ``SV`` the values;
* **S5F1** alarms: ``ALCD`` bit 8 set = alarm on, cleared = alarm off; handed to ``on_alarm``
  (the monitor puts them through the same alarm life cycle as its own detections).

Samples become messages of the live scheme so they pass the same validation and quarantine; a
DVID without a sensor mapping arrives as sensor ``DV<id>`` and is quarantined as an unknown
sensor rather than dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fabmind.ingest.payload import encode_trace, trace_topic
from fabmind.ingest.source import RawMessage

log = logging.getLogger(__name__)


@dataclass
class HsmsConfig:
    address: str
    port: int
    chamber_id: str
    session_id: int = 0
    dv_sensors: dict[int, str] = field(default_factory=dict)  # DVID -> sensor name
    events: dict[int, list[int]] = field(default_factory=dict)  # CEID -> DVIDs to report
    traces: dict[int, list[str]] = field(default_factory=dict)  # TRID -> sensor names of its SV list
    alarms: list[int] = field(default_factory=list)  # ALIDs to enable
    area: str = "EQ"
    topic_root: str = "secs"
    connect_timeout_s: float = 10.0  # per attempt: connect, select and S1F13 communication established
    connect_attempts: int = 3  # attempts before the source fails (the link is dropped and redialled between them)
    redial_delay_s: float = 2.0  # pause between a dropped link and the next dial (HSMS T5, connect separation)

    def __post_init__(self) -> None:
        if self.connect_attempts < 1 or self.connect_timeout_s <= 0 or self.redial_delay_s < 0:
            raise ValueError(f"HsmsConfig for {self.chamber_id}: connect_attempts={self.connect_attempts} must be "
                             f">= 1, connect_timeout_s={self.connect_timeout_s} > 0 and "
                             f"redial_delay_s={self.redial_delay_s} >= 0")


def parse_stime(stime: str, fallback: float) -> float:
    """SEMI E5 ``STIME``: ``YYYYMMDDhhmmsscc`` (16) or ``YYMMDDhhmmss`` (12), UTC; else ``fallback``."""
    try:
        if len(stime) == 16:
            d = datetime.strptime(stime[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            return d.timestamp() + int(stime[14:16]) / 100
        if len(stime) == 12:
            return datetime.strptime(stime, "%y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        pass
    return fallback


def format_stime(ts: float) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y%m%d%H%M%S") + f"{int(d.microsecond / 10000):02d}"


def _plain(v: Any) -> Any:
    v = v.get() if hasattr(v, "get") else v
    if isinstance(v, list) and len(v) == 1:
        return v[0]
    return v


class SecsGemHost:
    """A :class:`~fabmind.ingest.source.MessageSource` fed by one equipment's HSMS connection."""

    def __init__(self, config: HsmsConfig, *, on_alarm: Callable[[str, str, str, bool], None] | None = None):
        self.config = config
        self.on_alarm = on_alarm
        self.handler = None
        self.samples = 0
        self.alarms_received: list[tuple[int, int, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[RawMessage] | None = None
        self._seq = 0

    # ------------------------------------------------------------------ secsgem side (its threads)
    def _emit(self, sensors: list[str], ts: float, values: list[Any], tag: str) -> None:
        self._seq += 1
        c = self.config
        payload = encode_trace(f"secs:{c.chamber_id}:{tag}:{int(ts * 1e6)}", sensors, [round(ts, 6)], [values])
        msg = RawMessage(trace_topic(c.topic_root, c.area, c.chamber_id), payload)
        self.samples += 1
        if self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, msg)

    def _on_collection_event(self, data: dict) -> None:
        values = data.get("values", [])
        sensors = [self.config.dv_sensors.get(int(_plain(v["dvid"])), f"DV{_plain(v['dvid'])}") for v in values]
        vals = [_plain(v["value"]) for v in values]
        if sensors:
            self._emit(sensors, time.time(), vals, f"ce{_plain(data.get('ceid'))}")

    def _on_s6f1(self, handler, message):
        s6f1 = handler.settings.streams_functions.decode(message)
        trid = int(s6f1.TRID.get())
        values = [_plain(v) for v in s6f1.SV.get()]
        sensors = self.config.traces.get(trid) or [f"TR{trid}.{i}" for i in range(len(values))]
        if len(sensors) != len(values):  # keep it: validation quarantines the shape mismatch
            sensors = [f"TR{trid}.{i}" for i in range(len(values))]
        ts = parse_stime(str(s6f1.STIME.get()), time.time())
        self._emit(sensors, ts, values, f"tr{trid}.{int(s6f1.SMPLN.get())}")
        return handler.stream_function(6, 2)(0)

    def _on_alarm(self, data: dict) -> None:
        alcd, alid, text = int(_plain(data["code"])), int(_plain(data["alid"])), str(_plain(data["text"]))
        self.alarms_received.append((alid, alcd, text))
        if self.on_alarm is not None:
            self.on_alarm(self.config.chamber_id, f"ALID-{alid}", text, bool(alcd & 0x80))

    # ------------------------------------------------------------------ set-up (blocking, run in a thread)
    def _new_handler(self) -> Any:
        import secsgem.common
        import secsgem.gem
        import secsgem.hsms

        c = self.config
        settings = secsgem.hsms.HsmsSettings(address=c.address, port=c.port, session_id=c.session_id,
                                             connect_mode=secsgem.hsms.HsmsConnectMode.ACTIVE,
                                             device_type=secsgem.common.DeviceType.HOST)
        h = secsgem.gem.GemHostHandler(settings)
        h.events.collection_event_received += self._on_collection_event
        h.events.alarm_received += self._on_alarm
        h.register_stream_function(6, 1, self._on_s6f1)
        return h

    def _start(self) -> None:
        """Connect, select and establish communication, redialling up to ``connect_attempts`` times.

        A link can come up half-selected (the equipment answered Select.req but its own state machine
        did not take the select, so it ignores S1F13): no communication within ``connect_timeout_s``
        drops that link and dials again instead of waiting on it for ever.
        """
        c = self.config
        for attempt in range(1, c.connect_attempts + 1):
            h = self._new_handler()
            h.enable()
            if h.waitfor_communicating(c.connect_timeout_s):
                break
            self._disable(h)
            log.warning("HSMS %s:%s (%s): no communication within %g s, attempt %d of %d",
                        c.address, c.port, c.chamber_id, c.connect_timeout_s, attempt, c.connect_attempts)
            if attempt < c.connect_attempts:
                time.sleep(c.redial_delay_s)  # an equipment that has just seen the link close may refuse at once
        else:
            raise ConnectionError(f"equipment at {c.address}:{c.port} did not establish communication "
                                  f"within {c.connect_timeout_s:g} s in {c.connect_attempts} attempts")
        self.handler = h
        for ceid, dvids in c.events.items():
            h.subscribe_collection_event(ceid, dvids)
        for alid in c.alarms:
            h.enable_alarm(alid)

    def _disable(self, handler: Any, timeout_s: float = 10.0) -> None:
        """Close a link without letting a stuck secsgem shutdown block the caller for ever."""
        t = threading.Thread(target=handler.disable, name="fabmind-hsms-disable", daemon=True)
        t.start()
        t.join(timeout_s)
        if t.is_alive():
            c = self.config
            log.warning("HSMS %s:%s (%s): closing the link did not finish within %g s; left to finish on its own",
                        c.address, c.port, c.chamber_id, timeout_s)

    def stop(self) -> None:
        if self.handler is not None:
            self._disable(self.handler)
            self.handler = None

    async def batches(self, *, stop: asyncio.Event | None = None,
                      idle_timeout: float | None = None) -> AsyncIterator[list[RawMessage]]:
        from fabmind.ingest.source import drain_queue

        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        await asyncio.to_thread(self._start)
        idle_since = time.monotonic()
        try:
            while not (stop is not None and stop.is_set()):
                batch = await drain_queue(self._queue, 0.1, 256, stop)
                if batch is None:
                    if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                        return
                    continue
                idle_since = time.monotonic()
                yield batch
        finally:
            await asyncio.to_thread(self.stop)

    async def ack(self, batch: Sequence[RawMessage]) -> None:
        return None  # HSMS replies (S6F12 / S6F2 / S5F2) are sent on receipt by the protocol layer
