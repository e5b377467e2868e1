"""OPC UA connector (asyncua): subscribe to a server's variables through a node-id -> sensor map.

Every data change becomes a reading ``(chamber, sensor, source timestamp, value)``; changes are
buffered for ``flush_s`` and handed to the monitor as messages of the live scheme (one message
per chamber x sensor), so they pass the same validation, quarantine and deduplication as MQTT.

OPC UA subscriptions have no re-delivery after a client crash (the server's queue lives in the
session); the connector re-creates session and subscription with backoff after a lost
connection, and the dedup key (chamber, sensor, source timestamp) keeps a re-read value single.

    >>> m = NodeMapping.parse({"ns=2;s=ETCH-01/A.RF_FWD_W": "ETCH-01/A:RF_FWD_W"})
    >>> m["ns=2;s=ETCH-01/A.RF_FWD_W"]
    ('ETCH-01/A', 'RF_FWD_W')
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fabmind.ingest.payload import encode_trace, trace_topic
from fabmind.ingest.source import RawMessage

log = logging.getLogger(__name__)


class NodeMapping(dict):
    """node id (``ns=2;s=...`` / ``ns=2;i=...``) -> ``(chamber_id, sensor)``."""

    @classmethod
    def parse(cls, raw: Mapping[str, str | tuple[str, str]]) -> NodeMapping:
        out = cls()
        for node_id, target in raw.items():
            if isinstance(target, str):
                chamber_id, sep, sensor = target.rpartition(":")
                if not sep or not chamber_id or not sensor:
                    raise ValueError(f"node {node_id}: target {target!r} must look like 'ETCH-01/A:RF_FWD_W'")
                target = (chamber_id, sensor)
            out[node_id] = tuple(target)
        return out


def _epoch(ts: datetime | None) -> float:
    if ts is None:
        return time.time()
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts).timestamp()


class _Handler:
    def __init__(self, owner: OpcUaSource):
        self.owner = owner

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        self.owner._on_value(node.nodeid.to_string(), val, _epoch(ts))


class OpcUaSource:
    """A :class:`~fabmind.ingest.source.MessageSource` over an OPC UA server's subscriptions."""

    def __init__(self, url: str, mapping: Mapping[str, Any], *, area: str = "OPCUA", topic_root: str = "opcua",
                 publishing_interval_ms: float = 50.0, flush_s: float = 0.2, backoff_max_s: float = 5.0):
        self.url = url
        self.mapping = NodeMapping.parse(mapping)
        self.area, self.topic_root = area, topic_root
        self.publishing_interval_ms = publishing_interval_ms
        self.flush_s = flush_s
        self.backoff_max_s = backoff_max_s
        self._buffer: dict[tuple[str, str], list[tuple[float, Any]]] = {}
        self.connected = 0
        self.values = 0

    def _on_value(self, node_id: str, value: Any, ts: float) -> None:
        target = self.mapping.get(node_id)
        if target is None:  # cannot happen for subscribed nodes; keep it visible anyway
            target = ("UNMAPPED-00/X", node_id)
        if hasattr(value, "item"):
            value = value.item()
        if not isinstance(value, (int, float, bool, str)) and value is not None:
            value = str(value)
        self._buffer.setdefault(target, []).append((ts, value))
        self.values += 1

    def _flush(self) -> list[RawMessage]:
        out = []
        buf, self._buffer = self._buffer, {}
        for (chamber_id, sensor), samples in buf.items():
            samples.sort(key=lambda s: s[0])
            ts = [round(s[0], 6) for s in samples]
            payload = encode_trace(f"opcua:{chamber_id}:{sensor}:{int(ts[0] * 1e6)}:{len(ts)}", [sensor], ts,
                                   [[s[1]] for s in samples])
            out.append(RawMessage(trace_topic(self.topic_root, self.area, chamber_id), payload))
        return out

    async def batches(self, *, stop: asyncio.Event | None = None,
                      idle_timeout: float | None = None) -> AsyncIterator[list[RawMessage]]:
        from asyncua import Client, ua

        backoff = 0.1
        idle_since = time.monotonic()
        while not (stop is not None and stop.is_set()):
            try:
                async with Client(url=self.url, timeout=5) as client:
                    self.connected += 1
                    backoff = 0.1
                    sub = await client.create_subscription(self.publishing_interval_ms, _Handler(self))
                    nodes = [client.get_node(n) for n in self.mapping]
                    await sub.subscribe_data_change(nodes, queuesize=1000)
                    state = client.get_node(ua.ObjectIds.Server_ServerStatus_State)
                    last_check = time.monotonic()
                    while not (stop is not None and stop.is_set()):
                        await asyncio.sleep(self.flush_s)
                        batch = self._flush()
                        if batch:
                            idle_since = time.monotonic()
                            yield batch
                        elif idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                            return
                        if time.monotonic() - last_check > 2.0:  # a read fails fast on a lost session
                            await state.read_value()
                            last_check = time.monotonic()
            except (TimeoutError, OSError, ua.UaError, ConnectionError) as exc:
                log.warning("OPC UA %s: %s; reconnecting in %.1f s", self.url, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
        batch = self._flush()
        if batch:
            yield batch

    async def ack(self, batch: Sequence[RawMessage]) -> None:
        return None  # nothing to acknowledge upstream
