"""Live publishing: turn simulator runs (or a synthetic stream) into trace messages.

The demo fab's :class:`~fabmind.domain.RunTrace` records become messages of the live scheme
(:mod:`fabmind.ingest.payload`), optionally re-timed to "now" so the monitor sees a live fab;
they can go to a real broker (:class:`~fabmind.ingest.mqtt.MqttPublisher`) or, with no broker
configured, to the :class:`~fabmind.ingest.source.InProcessBus`.

:class:`StreamGenerator` is a small, seeded stream of a few chambers with an optional step fault,
for tests and the live benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from fabmind.domain import Chamber, RunTrace, Sensor
from fabmind.ingest.catalog import SensorCatalog
from fabmind.ingest.payload import encode_trace, trace_topic


def trace_messages(
    traces: Iterable[RunTrace],
    *,
    area_of: Callable[[str], str] = lambda chamber_id: chamber_id.split("-")[0],
    topic_root: str = "fab",
    samples_per_message: int = 100,
    retime_to: float | None = None,
) -> Iterator[tuple[str, bytes]]:
    """``(topic, payload)`` for every chunk of every run trace (time order within a run); each
    carries its samples' recipe steps, the run's last chunk ``run_end``, so the monitor scores the
    run with the run-level models as soon as it is complete.

    ``retime_to``: epoch seconds at which the first trace starts (shifts every trace by the same
    offset), e.g. ``time.time()`` to replay history as live data.
    """
    offset = None
    for tr in traces:
        t0 = tr.start.timestamp()
        if retime_to is not None:
            offset = retime_to - t0 if offset is None else offset
            t0 += offset
        n = tr.values.shape[0]
        ts = t0 + np.arange(n) * tr.dt_s
        topic = trace_topic(topic_root, area_of(tr.chamber_id), tr.chamber_id)
        for k, i in enumerate(range(0, n, samples_per_message)):
            j = min(n, i + samples_per_message)
            yield topic, encode_trace(f"{tr.run_id}:{k}", tr.sensors, np.round(ts[i:j], 6),
                                      tr.values[i:j].astype(np.float64).round(4), run_id=tr.run_id,
                                      step=tr.step_index[i:j], run_end=j == n)


@dataclass
class StreamGenerator:
    """A seeded multi-chamber stream: Gaussian sensors, an optional step fault on one chamber.

    >>> g = StreamGenerator(n_chambers=2, n_sensors=3, seed=1)
    >>> topic, payload = next(g.messages(n_messages=1, samples=4))
    >>> topic
    'fab/ETCH/ETCH-01/A/trace'
    """

    n_chambers: int = 4
    n_sensors: int = 10
    seed: int = 0
    dt_s: float = 0.01
    type_id: str = "DRYETCH-X"
    area: str = "ETCH"
    topic_root: str = "fab"
    fault_chamber: int | None = None  # index of the chamber that gets a step fault
    fault_at_message: int = 10**9  # message number (per chamber) from which the fault is on
    fault_sigma: float = 6.0
    fault_sensors: int = 2
    fault_chambers: tuple[int, ...] = ()  # more faulty chambers (with fault_period: faults come and go)
    fault_period: int | None = None  # messages per on/off cycle after fault_at_message (None: stays on)
    start: float | None = None  # epoch s of the first sample (default: now - a little)
    noise_seed: int | None = None  # seed of the noise only (same seed: same sensor levels, new samples)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.means = self._rng.uniform(50, 500, self.n_sensors)
        self.sigmas = self.means * 0.01
        if self.noise_seed is not None:
            self._rng = np.random.default_rng([self.seed, self.noise_seed])

    def _faulty(self, c: int, k: int) -> bool:
        if (c != self.fault_chamber and c not in self.fault_chambers) or k < self.fault_at_message:
            return False
        if self.fault_period is None:
            return True
        return (k - self.fault_at_message) % self.fault_period < self.fault_period // 2

    @property
    def chambers(self) -> list[Chamber]:
        return [Chamber(chamber_id=f"ETCH-{i + 1:02d}/A", equipment_id=f"ETCH-{i + 1:02d}", type_id=self.type_id)
                for i in range(self.n_chambers)]

    @property
    def sensor_names(self) -> list[str]:
        return [f"S{j:02d}" for j in range(self.n_sensors)]

    @property
    def sensors(self) -> list[Sensor]:
        return [Sensor(type_id=self.type_id, name=n, unit="u", low=0.0, high=2000.0) for n in self.sensor_names]

    def catalog(self) -> SensorCatalog:
        return SensorCatalog.from_records(self.chambers, self.sensors)

    def messages(self, n_messages: int, samples: int = 100, *, live: bool = False,
                 msg_prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """``n_messages`` per chamber, round-robin over chambers; ``live`` stamps each with its publish time."""
        start = self.start if self.start is not None else time.time() - n_messages * samples * self.dt_s - 60
        names = self.sensor_names
        for k in range(n_messages):
            for c, ch in enumerate(self.chambers):
                ts = start + (k * samples + np.arange(samples)) * self.dt_s
                vals = self.means + self.sigmas * self._rng.standard_normal((samples, self.n_sensors))
                if self._faulty(c, k):
                    vals[:, : self.fault_sensors] += self.fault_sigma * self.sigmas[: self.fault_sensors]
                topic = trace_topic(self.topic_root, self.area, ch.chamber_id)
                yield topic, encode_trace(f"{msg_prefix}{ch.chamber_id}:{k}", names, np.round(ts, 6),
                                          vals.round(4), sent=time.time() if live else None)
