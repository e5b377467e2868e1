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
    # secsgem 0.3: closing the listening socket kills the server thread before it resets its stop
    # flag, and disable() then waits on that flag for ever; disable in a thread and release the flag
    stopper = threading.Thread(target=eq.disable, daemon=True)
    stopper.start()
    stopper.join(1.0)
    if stopper.is_alive():
        eq.protocol._connection._stop_server_thread = False
        stopper.join(5.0)


def test_event_reports_trace_data_and_alarms_reach_the_monitor(live_store, gen, equipment):
    import secsgem.secs

    eq, port = equipment
    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=10**6))
    host = SecsGemHost(
        HsmsConfig("127.0.0.1", port, "ETCH-01/A", dv_sensors={DV_S00: "S00", DV_S01: "S01"},
                   events={CE_SAMPLE: [DV_S00, DV_S01, DV_UNMAPPED]}, traces={3: ["S00", "S01"]}, alarms=[ALID_RF]),
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

    asyncio.run(main())
    with live_store.engine.connect() as conn:
        rows = conn.execute(select(readings.c.sensor, readings.c.value).order_by(readings.c.ts)).all()
        codes = [c for (c,) in conn.execute(select(quarantine.c.code))]
    assert [v for s, v in rows if s == "S00"] == [100.0, 101.0, 102.0, 111.0]
    assert [v for s, v in rows if s == "S01"] == [50.0, 51.0, 52.0, 61.0]
    assert codes == ["unknown_sensor"] * 3  # DV 2003 has no sensor mapping: kept, with the reason
    alarms = repo.load_alarms(live_store.engine)
    assert [(a.alarm.source, a.alarm.code, a.alarm.message) for a in alarms] == [
        ("equipment", "ALID-7", "RF generator tripped")]
