"""Wiring for a running monitor: store + catalog + source (MQTT or in-process bus) + diagnosis hook.

This is the one service function behind ``fabmind monitor`` (CLI) and ``python -m fabmind.monitor``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fabmind.domain import Alarm
from fabmind.ingest.catalog import SensorCatalog
from fabmind.monitor.service import Monitor, MonitorConfig, MonitorStats
from fabmind.monitor.tables import ensure_live_tables

log = logging.getLogger(__name__)


def area_of_store(store: Any) -> Callable[[str], str]:
    """chamber id -> the area of its tool (from the store's equipment), else the tool's type prefix."""
    areas = {e.equipment_id: e.area_id for e in store.equipment()}
    return lambda chamber_id: areas.get(chamber_id.split("/")[0], chamber_id.split("-")[0])


def default_diagnosis(store: Any) -> Callable[[Alarm], str | None] | None:
    """The agents room's fault assistant (built-in analyst) if it is installed, else no diagnosis."""
    try:
        from fabmind.agents import diagnose_alarm  # type: ignore[attr-defined]
    except ImportError:
        return None
    return lambda alarm: diagnose_alarm(store, alarm)


def default_run_scorers(store: Any, settings: Any = None) -> list:
    """Run-level models for a live monitor: the registry's active FDC models (``fdc-<recipe>``) and
    failure-risk model (``pdm-risk``), each scoring every completed run; chambers without an active
    model are skipped (see :mod:`fabmind.monitor.run_models`)."""
    from fabmind.config import Settings
    from fabmind.models.registry import ModelRegistry
    from fabmind.monitor.run_models import FdcRunScorer, PdmRiskScorer

    registry = ModelRegistry.from_settings(settings or Settings())
    return [FdcRunScorer(store, registry), PdmRiskScorer(store, registry)]


@dataclass
class LiveOptions:
    mqtt_host: str = ""  # empty: no broker -> the caller supplies an InProcessBus
    mqtt_port: int = 1883
    topic_root: str = "fab"
    client_id: str = "fabmind-monitor"
    idle_exit_s: float | None = None  # stop after this long without messages (tests, batch replays)


def build_monitor(store: Any, config: MonitorConfig | None = None,
                  on_alarm: Callable[[Alarm], str | None] | None = None, run_scorers: Sequence | None = None) -> Monitor:
    """A monitor on ``store``; ``run_scorers=None`` wires in :func:`default_run_scorers`."""
    ensure_live_tables(store.engine)
    if run_scorers is None:
        run_scorers = default_run_scorers(store)
    return Monitor(store.engine, SensorCatalog.from_store(store), config=config, area_of=area_of_store(store),
                   on_alarm=on_alarm, run_scorers=run_scorers)


async def run_live(store: Any, options: LiveOptions, *, source: Any = None, config: MonitorConfig | None = None,
                   on_alarm: Callable[[Alarm], str | None] | None = None, run_scorers: Sequence | None = None,
                   stop: asyncio.Event | None = None) -> MonitorStats:
    """Run the monitor until ``stop`` (or SIGINT/SIGTERM, or ``idle_exit_s`` without messages)."""
    from fabmind.ingest.mqtt import MqttConfig, MqttSource

    monitor = build_monitor(store, config, on_alarm, run_scorers)
    if source is None:
        if not options.mqtt_host:
            raise ValueError("no MQTT broker configured (FABMIND_MQTT_HOST) and no in-process source given")
        source = MqttSource(MqttConfig(host=options.mqtt_host, port=options.mqtt_port, topic_root=options.topic_root,
                                       client_id=options.client_id))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform
            pass
    try:
        return await monitor.run(source, stop=stop, idle_timeout=options.idle_exit_s)
    finally:
        monitor.close()
