"""SECS/GEM HSMS: fabmind as host against a secsgem equipment simulator started in the test."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from sqlalchemy import select

from fabmind.ingest.hsms import HsmsConfig, SecsGemHost, format_stime, parse_stime
from fabmind.monitor import repository as repo
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.store.schema import quarantine, readings

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]

DV_S00, DV_S01, DV_UNMAPPED, CE_SAMPLE, ALID_RF = 2001, 2002, 2003, 5001, 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stime_round_trip():
    t = 1_780_000_000.25
    assert parse_stime(format_stime(t), 0.0) == pytest.approx(t, abs=0.01)
    assert parse_stime("garbage", 5.0) == 5.0


@pytest.fixture()
def equipment():
    import secsgem.common
    import secsgem.gem
    import secsgem.hsms
    import secsgem.secs

    port = _free_port()
    settings = secsgem.hsms.HsmsSettings(address="127.0.0.1", port=port,
                                         connect_mode=secsgem.hsms.HsmsConnectMode.PASSIVE,
                                         device_type=secsgem.common.DeviceType.EQUIPMENT)
    eq = secsgem.gem.GemEquipmentHandler(settings)
    F8 = secsgem.secs.variables.F8
    for dvid, name in ((DV_S00, "S00"), (DV_S01, "S01"), (DV_UNMAPPED, "HEATER_X")):
        eq.data_values[dvid] = secsgem.gem.DataValue(dvid, name, F8, use_callback=False)
    eq.collection_events[CE_SAMPLE] = secsgem.gem.CollectionEvent(CE_SAMPLE, "Sample", [DV_S00, DV_S01, DV_UNMAPPED])
    eq.collection_events[5101] = secsgem.gem.CollectionEvent(5101, "RfTripOn", [])
    eq.collection_events[5102] = secsgem.gem.CollectionEvent(5102, "RfTripOff", [])
    eq.alarms[ALID_RF] = secsgem.gem.Alarm(ALID_RF, "RF_TRIP", "RF generator tripped",
                                           secsgem.secs.data_items.ALCD.EQUIPMENT_SAFETY, 5101, 5102)
    eq.enable()
    yield eq, port
    # secsgem 0.3: closing the listening socket can kill the (non-daemon) server thread before it resets its
    # stop flag, and disable() then waits on that flag for ever; disable in a thread and release the flag,
    # but only once that server thread is gone: released while it is still alive (a slow start under load),
    # the thread would listen for ever and keep the test process from exiting
    stopper = threading.Thread(target=eq.disable, daemon=True)
    stopper.start()
    stopper.join(1.0)
    if stopper.is_alive():
        conn = eq.protocol._connection
        server = conn._server_thread
        if server is not None:
            server.join(10.0)  # with the flag set it leaves its loop at the next select timeout
        if stopper.is_alive() and (server is None or not server.is_alive()):
            conn._stop_server_thread = False
        stopper.join(5.0)


def test_event_reports_trace_data_and_alarms_reach_the_monitor(live_store, gen, equipment):
    import secsgem.secs

    eq, port = equipment
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=10**6))
    host = SecsGemHost(
        HsmsConfig("127.0.0.1", port, "ETCH-01/A", dv_sensors={DV_S00: "S00", DV_S01: "S01"},
                   events={CE_SAMPLE: [DV_S00, DV_S01, DV_UNMAPPED]}, traces={3: ["S00", "S01"]}, alarms=[ALID_RF],
                   connect_timeout_s=5.0),  # a half-selected link is redialled well inside the 20 s below
        on_alarm=lambda chamber, code, text, active: mon.equipment_alarm(chamber, code, text, active),
    )

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(mon.run(host, stop=stop, source_name="secsgem"))
        t_end = time.monotonic() + 20
        while not (eq.alarms[ALID_RF].enabled and CE_SAMPLE in eq.registered_collection_events):
            assert time.monotonic() < t_end, "host did not set up reports and alarms"
            await asyncio.sleep(0.05)
        for i in range(3):  # S6F11 event reports
            eq.data_values[DV_S00].value, eq.data_values[DV_S01].value = 100.0 + i, 50.0 + i
            eq.data_values[DV_UNMAPPED].value = 1.0
            eq.trigger_collection_events([CE_SAMPLE])
            await asyncio.sleep(0.05)
        F8 = secsgem.secs.variables.F8
        s6f1 = eq.stream_function(6, 1)({"TRID": 3, "SMPLN": 1, "STIME": format_stime(time.time()),
                                         "SV": [F8(111.0), F8(61.0)]})
        await asyncio.to_thread(eq.send_and_waitfor_response, s6f1)  # S6F1 trace data
        await asyncio.to_thread(eq.set_alarm, ALID_RF)  # S5F1 alarm set
        while mon.stats.report.received < 3 * 3 + 2 and time.monotonic() < t_end:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    try:
        asyncio.run(main())
    finally:
        host.stop()  # also when main() failed: secsgem's threads would otherwise keep the interpreter alive
    with live_store.engine.connect() as conn:
        rows = conn.execute(select(readings.c.sensor, readings.c.value).order_by(readings.c.ts)).all()
        codes = [c for (c,) in conn.execute(select(quarantine.c.code))]
    assert [v for s, v in rows if s == "S00"] == [100.0, 101.0, 102.0, 111.0]
    assert [v for s, v in rows if s == "S01"] == [50.0, 51.0, 52.0, 61.0]
    assert codes == ["unknown_sensor"] * 3  # DV 2003 has no sensor mapping: kept, with the reason
    alarms = repo.load_alarms(live_store.engine)
    assert [(a.alarm.source, a.alarm.code, a.alarm.message) for a in alarms] == [
        ("equipment", "ALID-7", "RF generator tripped")]


class _FakeHandler:
    def __init__(self, ok: bool):
        self.ok, self.calls = ok, []

    def enable(self):
        self.calls.append("enable")

    def waitfor_communicating(self, timeout):
        self.calls.append(("wait", timeout))
        return self.ok

    def disable(self):
        self.calls.append("disable")

    def subscribe_collection_event(self, ceid, dvids):
        self.calls.append(("subscribe", ceid, tuple(dvids)))

    def enable_alarm(self, alid):
        self.calls.append(("alarm", alid))


def test_host_redials_a_link_that_does_not_come_up_and_fails_after_its_attempts(monkeypatch, caplog):
    cfg = HsmsConfig("127.0.0.1", 5000, "ETCH-01/A", events={1: [10]}, alarms=[7], connect_timeout_s=0.5,
                     connect_attempts=3, redial_delay_s=0.0)
    host = SecsGemHost(cfg)
    made = iter([_FakeHandler(False), _FakeHandler(True)])
    handlers = []
    monkeypatch.setattr(host, "_new_handler", lambda: handlers.append(next(made)) or handlers[-1])
    host._start()
    assert handlers[0].calls == ["enable", ("wait", 0.5), "disable"]  # the dead link is dropped
    assert handlers[1].calls == ["enable", ("wait", 0.5), ("subscribe", 1, (10,)), ("alarm", 7)]
    assert host.handler is handlers[1]
    assert "no communication within 0.5 s, attempt 1 of 3" in caplog.text

    never = SecsGemHost(cfg)
    monkeypatch.setattr(never, "_new_handler", lambda: _FakeHandler(False))
    with pytest.raises(ConnectionError, match=r"127.0.0.1:5000 did not establish communication within 0.5 s "
                                              r"in 3 attempts"):
        never._start()
    with pytest.raises(ValueError, match="connect_attempts=0 must be >= 1"):
        SecsGemHost(HsmsConfig("127.0.0.1", 5000, "ETCH-01/A", connect_attempts=0))._start()


def test_host_redials_when_the_equipment_did_not_take_the_select(equipment, caplog):
    """The race seen in CI: the equipment answers Select.req but its state machine does not take the select
    (it then ignores S1F13 as 'not selected'). The host drops that link after connect_timeout_s and redials."""
    eq, port = equipment
    state = eq.protocol._connection_state
    real_select, failed = state.select, []

    def select_once_broken(*args, **kwargs):
        if not failed:
            failed.append(True)
            raise RuntimeError("simulated: select.rsp sent, select not taken")
        return real_select(*args, **kwargs)

    state.select = select_once_broken
    host = SecsGemHost(HsmsConfig("127.0.0.1", port, "ETCH-01/A", connect_timeout_s=3.0, connect_attempts=3,
                                    redial_delay_s=1.0))
    t0 = time.monotonic()
    try:
        host._start()
        assert failed and time.monotonic() - t0 >= 3.0  # the first link did not come up and was redialled
        assert "attempt 1 of 3" in caplog.text
        assert host.handler.waitfor_communicating(0)
    finally:
        host.stop()
