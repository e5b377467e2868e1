"""Message sources the monitor consumes: one protocol, several transports.

A source yields batches of :class:`RawMessage` (topic + payload bytes) and is told to
``ack`` a batch once it is stored. MQTT acknowledges to the broker (PUBACK) only then; the
in-process bus (no broker configured, tests, the demo) keeps unacknowledged messages and hands
them out again after :meth:`InProcessBus.redeliver`, mimicking a broker's persistent session.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class RawMessage:
    topic: str
    payload: bytes
    token: Any = None  # transport handle used to acknowledge (MQTT message id ...)
    received: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        """Fallback dedup key for messages without a ``msg_id``: hash of topic and payload."""
        return "sha1:" + hashlib.sha1(self.topic.encode() + b"\0" + self.payload).hexdigest()


class MessageSource(Protocol):
    def batches(self, *, stop: asyncio.Event | None = None,
                idle_timeout: float | None = None) -> AsyncIterator[list[RawMessage]]: ...

    async def ack(self, batch: Sequence[RawMessage]) -> None: ...


async def drain_queue(queue: asyncio.Queue, first_timeout: float | None, max_batch: int,
                      stop: asyncio.Event | None) -> list[Any] | None:
    """Wait for one item (``None`` on timeout or stop), then take whatever else is queued, up to ``max_batch``."""
    get = asyncio.ensure_future(queue.get())
    waiters = {get}
    stopper = None
    if stop is not None:
        stopper = asyncio.ensure_future(stop.wait())
        waiters.add(stopper)
    done, _ = await asyncio.wait(waiters, timeout=first_timeout, return_when=asyncio.FIRST_COMPLETED)
    if stopper is not None:
        stopper.cancel()
    if get not in done:
        get.cancel()
        return None
    items = [get.result()]
    while len(items) < max_batch:
        try:
            items.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            break
    return items


class InProcessBus:
    """A broker-less bus with the same at-least-once contract as an MQTT persistent session.

    >>> import asyncio
    >>> bus = InProcessBus()
    >>> bus.publish("fab/ETCH/ETCH-01/A/trace", b"{}")
    >>> async def one():
    ...     async for batch in bus.batches(idle_timeout=0.01):
    ...         return [m.topic for m in batch]
    >>> asyncio.run(one())
    ['fab/ETCH/ETCH-01/A/trace']
    """

    def __init__(self, max_batch: int = 64):
        self.max_batch = max_batch
        self._queue: deque[RawMessage] = deque()
        self._unacked: dict[int, RawMessage] = {}
        self._seq = 0
        self._event: asyncio.Event | None = None
        self.published = 0

    def publish(self, topic: str, payload: bytes) -> None:
        self._seq += 1
        self.published += 1
        self._queue.append(RawMessage(topic, payload, token=self._seq))
        if self._event is not None:
            self._event.set()

    def redeliver(self) -> int:
        """Put every handed-out but unacknowledged message back in front (a 'reconnect')."""
        back = sorted(self._unacked.values(), key=lambda m: m.token)
        self._unacked.clear()
        self._queue.extendleft(reversed(back))
        return len(back)

    async def batches(self, *, stop: asyncio.Event | None = None,
                      idle_timeout: float | None = None) -> AsyncIterator[list[RawMessage]]:
        self._event = asyncio.Event()
        idle_since = time.monotonic()
        while not (stop is not None and stop.is_set()):
            if not self._queue:
                self._event.clear()
                try:
                    await asyncio.wait_for(self._event.wait(), timeout=0.05)
                except TimeoutError:
                    if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                        return
                continue
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            for m in batch:
                self._unacked[m.token] = m
            yield batch
            idle_since = time.monotonic()

    async def ack(self, batch: Sequence[RawMessage]) -> None:
        for m in batch:
            self._unacked.pop(m.token, None)
