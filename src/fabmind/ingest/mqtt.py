"""MQTT connector (aiomqtt): the monitor's subscriber and a reliable publisher.

Subscriber: QoS 1, persistent session (``clean_session=False`` and a fixed client id, so the
broker queues messages while the monitor is down), **manual acknowledgement** — the PUBACK for a
message is sent only after the batch it belongs to is committed — and reconnection with
exponential backoff. Topic/payload scheme: :mod:`fabmind.ingest.payload`.

Publisher: QoS 1 with a persistent session; on a lost connection it reconnects with backoff and
re-sends every message not yet acknowledged by the broker (possible duplicates are harmless: the
consumer deduplicates by ``msg_id``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from fabmind.ingest.payload import subscription
from fabmind.ingest.source import RawMessage, drain_queue

log = logging.getLogger(__name__)


def _aiomqtt():
    try:
        import aiomqtt
    except ImportError as exc:  # pragma: no cover
        raise ImportError("the MQTT connector needs aiomqtt: pip install 'fabmind[live]'") from exc
    return aiomqtt


@dataclass
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    topic_root: str = "fab"
    client_id: str = "fabmind-monitor"
    keepalive: int = 30
    max_batch: int = 64
    backoff_min_s: float = 0.1
    backoff_max_s: float = 5.0

    @classmethod
    def from_settings(cls, settings, client_id: str = "fabmind-monitor") -> MqttConfig:
        return cls(host=settings.mqtt_host or "127.0.0.1", port=settings.mqtt_port, topic_root=settings.mqtt_topic_root,
                   client_id=client_id)


class MqttSource:
    """Batches of trace messages from a broker, acknowledged only when stored.

    ``connected`` counts successful (re)connections — useful to see a reconnect happened;
    ``subscribed`` counts completed subscriptions (the broker routes messages to us from then on).
    """

    def __init__(self, config: MqttConfig):
        self.config = config
        self.connected = 0
        self.subscribed = 0
        self._client = None
        self._generation = 0

    async def batches(self, *, stop: asyncio.Event | None = None,
                      idle_timeout: float | None = None) -> AsyncIterator[list[RawMessage]]:
        aiomqtt = _aiomqtt()
        c = self.config
        backoff = c.backoff_min_s
        idle_since = time.monotonic()
        while not (stop is not None and stop.is_set()):
            queue: asyncio.Queue[RawMessage] = asyncio.Queue()
            client = aiomqtt.Client(c.host, c.port, identifier=c.client_id, clean_session=False,
                                    keepalive=c.keepalive, timeout=5.0)
            # PUBACK only after the batch is committed (paho's manual ack; aiomqtt does not wrap it)
            client._client.manual_ack_set(True)
            try:
                async with client:
                    self._client, self._generation = client, self._generation + 1
                    gen = self._generation
                    self.connected += 1
                    backoff = c.backoff_min_s
                    await client.subscribe(subscription(c.topic_root), qos=1)
                    self.subscribed += 1
                    reader = asyncio.create_task(self._read(client, queue, gen))
                    try:
                        while not (stop is not None and stop.is_set()):
                            if reader.done():
                                reader.result()  # re-raises the connection error
                            batch = await drain_queue(queue, 0.2, c.max_batch, stop)
                            if batch is None:
                                if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                                    return
                                continue
                            yield batch
                            idle_since = time.monotonic()
                    finally:
                        reader.cancel()
                        self._client = None
                if stop is None or stop.is_set():
                    return
            except aiomqtt.MqttError as exc:
                log.warning("MQTT connection to %s:%s lost (%s); reconnecting in %.1f s", c.host, c.port, exc, backoff)
                self._client = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, c.backoff_max_s)

    @staticmethod
    async def _read(client, queue: asyncio.Queue, gen: int) -> None:
        async for m in client.messages:
            await queue.put(RawMessage(str(m.topic), bytes(m.payload), token=(gen, m.mid, m.qos)))

    async def ack(self, batch: Sequence[RawMessage]) -> None:
        client = self._client
        for m in batch:
            gen, mid, qos = m.token
            # a message from an older connection is re-delivered by the broker; acking its id on the
            # new connection could acknowledge a different message
            if client is not None and gen == self._generation and qos > 0:
                client._client.ack(mid, qos)


class MqttPublisher:
    """Publishes with QoS 1 and re-sends what the broker has not acknowledged after a reconnect."""

    def __init__(self, config: MqttConfig, client_id: str = "fabmind-publisher"):
        self.config = config
        self.client_id = client_id
        self.reconnects = 0
        self.published = 0

    async def publish_all(self, messages: Iterable[tuple[str, bytes]], *, deadline_s: float = 120.0,
                          on_published=None) -> int:
        """Publish every ``(topic, payload)``; returns how many the broker acknowledged (all, or raises)."""
        aiomqtt = _aiomqtt()
        c = self.config
        pending = list(messages)
        i = 0
        backoff = c.backoff_min_s
        t_end = time.monotonic() + deadline_s
        while i < len(pending):
            if time.monotonic() > t_end:
                raise TimeoutError(f"published {i}/{len(pending)} messages before the {deadline_s:g} s deadline")
            try:
                async with aiomqtt.Client(c.host, c.port, identifier=self.client_id, clean_session=False,
                                          keepalive=c.keepalive, timeout=5.0) as client:
                    backoff = c.backoff_min_s
                    while i < len(pending):
                        topic, payload = pending[i]
                        await client.publish(topic, payload, qos=1, timeout=5.0)
                        i += 1
                        self.published += 1
                        if on_published is not None:
                            on_published(i)
            except aiomqtt.MqttError as exc:
                self.reconnects += 1
                log.warning("publisher lost the broker (%s) at message %d; retrying in %.1f s", exc, i, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, c.backoff_max_s)
        return i
