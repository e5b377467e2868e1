"""OPC UA: an asyncua server started in the test; its variables stream into the store via the monitor."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sqlalchemy import select

from fabmind.ingest.opcua import NodeMapping, OpcUaSource
from fabmind.monitor.service import Monitor, MonitorConfig
from fabmind.store.schema import quarantine, readings

pytestmark = pytest.mark.timeout(60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mapping_names_the_bad_target():
    with pytest.raises(ValueError, match="ns=2;s=x"):
        NodeMapping.parse({"ns=2;s=x": "no-sensor-part"})


def test_subscribed_variables_are_stored_and_bad_values_quarantined(live_store, gen):
    from asyncua import Server, ua

    mon = Monitor(live_store.engine, gen.catalog(), config=MonitorConfig(warmup=10**6))
    port = _free_port()
    url = f"opc.tcp://127.0.0.1:{port}/fab/"

    async def main():
        server = Server()
        await server.init()
        server.set_endpoint(url)
        idx = await server.register_namespace("urn:fabmind:test")
        tool = await server.nodes.objects.add_object(idx, "ETCH-01")
        rf = await tool.add_variable(ua.NodeId("ETCH-01/A.S00", idx), "S00", 100.0)
        pr = await tool.add_variable(ua.NodeId("ETCH-01/A.S01", idx), "S01", 50.0)
        mapping = {f"ns={idx};s=ETCH-01/A.S00": "ETCH-01/A:S00", f"ns={idx};s=ETCH-01/A.S01": "ETCH-01/A:S01"}
        async with server:
            src = OpcUaSource(url, mapping, flush_s=0.05, publishing_interval_ms=20)
            stop = asyncio.Event()
            task = asyncio.create_task(mon.run(src, stop=stop, source_name="opcua"))
            for _ in range(100):  # until the subscription delivered the initial values
                if src.values >= 2:
                    break
                await asyncio.sleep(0.05)
            for i in range(1, 6):
                await rf.write_value(100.0 + i)
                await pr.write_value(50.0 + i)
                await asyncio.sleep(0.05)
            await rf.write_value(99999.0)  # outside the sensor's valid range 0..2000
            for _ in range(100):
                if mon.stats.report.received >= 13:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task

    asyncio.run(main())
    with live_store.engine.connect() as conn:
        rows = conn.execute(select(readings.c.sensor, readings.c.value).order_by(readings.c.ts)).all()
        codes = [c for (c,) in conn.execute(select(quarantine.c.code))]
    s00 = [v for s, v in rows if s == "S00"]
    assert s00 == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    assert len([v for s, v in rows if s == "S01"]) == 6
    assert codes == ["out_of_range"]
    rep = mon.stats.report
    assert rep.received == rep.stored + rep.quarantined == 13
