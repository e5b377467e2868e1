"""``python -m fabmind.monitor --db URL --mqtt-host HOST ...``: the monitor as a plain process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from fabmind.monitor.runner import LiveOptions, run_live
from fabmind.monitor.service import MonitorConfig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fabmind.monitor")
    ap.add_argument("--db", required=True)
    ap.add_argument("--mqtt-host", default="127.0.0.1")
    ap.add_argument("--mqtt-port", type=int, default=1883)
    ap.add_argument("--topic-root", default="fab")
    ap.add_argument("--client-id", default="fabmind-monitor")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--idle-exit", type=float, default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from fabmind.store import Store

    with Store(a.db) as store:
        opts = LiveOptions(a.mqtt_host, a.mqtt_port, a.topic_root, a.client_id, a.idle_exit)
        stats = asyncio.run(run_live(store, opts, config=MonitorConfig(warmup=a.warmup)))
    r = stats.report
    print(json.dumps({"messages": r.messages, "received": r.received, "stored": r.stored,
                      "quarantined": r.quarantined, "alarms": stats.alarms_raised}), flush=True)


if __name__ == "__main__":
    main()
