"""MQTT against the real Mosquitto: end to end, broker restart, monitor killed with -9 — nothing lost.

``lost`` and ``duplicated`` are counted against what was sent: every reading published must be
in ``readings`` exactly once (the table's natural key makes a second copy impossible, so
``duplicated`` counts ledger rows that claim to have stored a message twice).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fabmind.ingest.live import StreamGenerator
from fabmind.ingest.mqtt import MqttConfig, MqttPublisher, MqttSource
from fabmind.ingest.tables import ingest_messages
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.store.schema import readings

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(120)]

MOSQUITTO = ["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"]
PIDFILE = Path("/run/mosquitto/mosquitto.pid")


def _port_open(port: int = 1883) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(cond, timeout: float, what: str) -> None:
    t_end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > t_end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def stop_broker() -> None:
    pid = int(PIDFILE.read_text().strip())
    os.kill(pid, signal.SIGTERM)  # SIGTERM: mosquitto saves its persistent sessions to disk
    _wait(lambda: not _port_open(), 10, "Mosquitto to stop")
    _wait(lambda: not Path(f"/proc/{pid}").exists(), 10, "Mosquitto to exit")


def start_broker() -> None:
    if not _port_open():
        subprocess.run(MOSQUITTO, check=True)
    _wait(_port_open, 10, "Mosquitto to listen again")


@pytest.fixture()
def restartable_broker(mqtt_broker):
    """The broker, if this test may stop and start it (its pid file is readable and we may signal it)."""
    try:
        pid = int(PIDFILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError) as exc:
        pytest.skip(f"cannot restart Mosquitto here ({exc}); it must run as 'mosquitto -d -c "
                    f"/etc/mosquitto/mosquitto.conf' with pid file {PIDFILE}")
    yield mqtt_broker
    start_broker()  # never leave the shared broker down


@pytest.fixture()
def topic_root():
    root = "t" + uuid.uuid4().hex[:10]  # this test's own topics and sessions on the shared broker
    yield root
    if _port_open():  # drop the persistent sessions this test created, so the broker does not keep them

        async def forget():
            import aiomqtt

            for client_id in (f"mon-{root}", f"pub-{root}"):
                async with aiomqtt.Client("127.0.0.1", 1883, identifier=client_id, clean_session=True):
                    pass

        asyncio.run(forget())


async def _until_subscribed(src, timeout_s: float = 20.0) -> None:
    """Publish only once the monitor's subscription is in place (a fixed sleep lost the first
    message on a loaded machine: the broker drops what no subscription matches yet)."""
    t_end = time.monotonic() + timeout_s
    while src.subscribed < 1:
        assert time.monotonic() < t_end, "the monitor never subscribed"
        await asyncio.sleep(0.01)


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        n_r = conn.execute(select(func.count()).select_from(readings)).scalar()
        n_m = conn.execute(select(func.count()).select_from(ingest_messages)).scalar()
        claimed = conn.execute(select(func.coalesce(func.sum(ingest_messages.c.n_stored), 0))).scalar()
    return n_r, n_m, claimed


def test_end_to_end_through_mosquitto(mqtt_broker, live_store, gen, topic_root):
    gen.topic_root = topic_root
    msgs = list(gen.messages(10, 100, live=True)) + [(f"{topic_root}/ETCH/ETCH-01/A/trace", b"{oops")]
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=200))
    cfg = MqttConfig(*mqtt_broker, topic_root=topic_root, client_id=f"mon-{topic_root}")

    async def main():
        src = MqttSource(cfg)
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(src, stop=stop))
        await _until_subscribed(src)
        await MqttPublisher(cfg, client_id=f"pub-{topic_root}").publish_all(msgs)
        t_end = time.monotonic() + 20
        while mon.stats.report.messages < len(msgs) and time.monotonic() < t_end:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())
    rep = mon.stats.report
    assert rep.messages == len(msgs) and rep.reasons == {"malformed_json": 1}
    sent = 30 * 500
    assert _counts(live_store.engine)[0] == rep.stored == sent
    assert mon.stats.store_latency_ms and max(mon.stats.store_latency_ms) < 10_000


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(restartable_broker, live_store, gen, topic_root):
    mqtt_broker = restartable_broker
    gen.topic_root = topic_root
    msgs = list(gen.messages(20, 50))  # 60 messages x 250 readings
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=100))
    cfg = MqttConfig(*mqtt_broker, topic_root=topic_root, client_id=f"mon-{topic_root}", backoff_max_s=0.5)
    pub = MqttPublisher(cfg, client_id=f"pub-{topic_root}")
    src = MqttSource(cfg)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(src, stop=stop))
        await _until_subscribed(src)

        async def restart_when(n: int):
            while pub.published < n:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(stop_broker)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(start_broker)

        async def publish():
            for i in range(0, len(msgs), 5):
                await pub.publish_all(msgs[i : i + 5], deadline_s=30)
                await asyncio.sleep(0.02)

        try:
            await asyncio.gather(publish(), restart_when(25))
        finally:
            start_broker()  # never leave the shared broker down
        t_end = time.monotonic() + 30
        while _counts(live_store.engine)[0] < len(msgs) * 250 and time.monotonic() < t_end:
            await asyncio.sleep(0.1)
        stop.set()
        await task

    try:
        asyncio.run(main())
    finally:
        start_broker()
    n_r, n_m, claimed = _counts(live_store.engine)
    sent = len(msgs) * 250
    lost, duplicated = sent - n_r, claimed - n_r
    assert src.connected >= 2, "the monitor never reconnected: the broker restart did not happen"
    assert (lost, duplicated) == (0, 0) and n_m == len(msgs)


def test_monitor_killed_mid_batch_and_restarted(mqtt_broker, live_store, gen, topic_root, tmp_path):
    gen.topic_root = topic_root
    msgs = list(gen.messages(40, 100))  # 120 messages x 500 readings
    url = str(live_store.engine.url)
    cfg = MqttConfig(*mqtt_broker, topic_root=topic_root, client_id=f"mon-{topic_root}")
    cmd = [sys.executable, "-m", "fabmind.monitor", "--db", url, "--mqtt-host", mqtt_broker[0], "--mqtt-port",
           str(mqtt_broker[1]), "--topic-root", topic_root, "--client-id", cfg.client_id, "--warmup", "100"]

    def spawn(idle_exit: float | None = None):
        extra = ["--idle-exit", str(idle_exit)] if idle_exit else []
        return subprocess.Popen(cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = spawn()
    try:
        # the persistent session must exist before publishing: wait until the monitor took a probe message
        probe = list(StreamGenerator(n_chambers=1, n_sensors=5, seed=3, topic_root=topic_root).messages(1, 10,
                                                                                                         msg_prefix="probe-"))
        for _ in range(100):
            asyncio.run(MqttPublisher(cfg, client_id=f"pub-{topic_root}").publish_all(probe))
            time.sleep(0.3)
            if _counts(live_store.engine)[1] >= 1:
                break
        assert _counts(live_store.engine)[1] >= 1, first.stderr.read() if first.poll() is not None else "no probe"
        base = _counts(live_store.engine)[0]
        sent = len(msgs) * 500

        async def publish_and_kill():
            pub = MqttPublisher(cfg, client_id=f"pub-{topic_root}")
            task = asyncio.create_task(pub.publish_all(msgs, deadline_s=60))
            while _counts(live_store.engine)[0] - base < sent // 4:
                await asyncio.sleep(0.01)
            first.send_signal(signal.SIGKILL)  # mid-stream, most likely mid-batch
            await task

        asyncio.run(publish_and_kill())
        first.wait(10)
        killed_at = _counts(live_store.engine)[0] - base
        assert 0 < killed_at < sent, "the kill did not land mid-stream"
        second = spawn(idle_exit=3.0)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err[-2000:]
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    n_r, _n_m, claimed = _counts(live_store.engine)
    lost, duplicated = sent - (n_r - base), claimed - n_r
    assert (lost, duplicated) == (0, 0)
