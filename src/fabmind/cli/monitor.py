"""``fabmind monitor`` (stream scoring and alarms) and ``fabmind alarm …`` (the engineer's side)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

console = Console()
alarm_app = typer.Typer(help="acknowledge, shelve, clear alarms and record verdicts", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    app.add_typer(alarm_app, name="alarm")


def monitor(
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    mqtt_host: str = typer.Option("", help="MQTT broker (default: FABMIND_MQTT_HOST; empty = in-process bus)"),
    mqtt_port: int = typer.Option(0, help="MQTT port (default: FABMIND_MQTT_PORT)"),
    topic_root: str = typer.Option("", help="topic root (default: FABMIND_MQTT_TOPIC_ROOT)"),
    client_id: str = typer.Option("fabmind-monitor", help="MQTT client id: the persistent session's name"),
    replay: int = typer.Option(0, help="publish the store's last N run traces as live data (demo without a fab)"),
    warmup: int = typer.Option(200, help="samples per chamber before its charts are fitted"),
    idle_exit: float = typer.Option(0.0, help="stop after this many seconds without messages (0 = run until Ctrl-C)"),
) -> None:
    """Consume live traces (MQTT, or the in-process bus), store and score them, raise and manage alarms."""
    from fabmind.config import Settings
    from fabmind.ingest.mqtt import MqttConfig, MqttPublisher
    from fabmind.ingest.source import InProcessBus
    from fabmind.monitor.runner import LiveOptions, default_diagnosis, run_live
    from fabmind.monitor.service import MonitorConfig
    from fabmind.store import Store

    settings = Settings()
    opts = LiveOptions(mqtt_host or settings.mqtt_host, mqtt_port or settings.mqtt_port,
                       topic_root or settings.mqtt_topic_root, client_id, idle_exit or None)
    with Store(db or settings.db_url) as store:
        messages = _replay_messages(store, replay, opts.topic_root) if replay else []
        source = None
        if not opts.mqtt_host:
            source = InProcessBus()
            for topic, payload in messages:
                source.publish(topic, payload)
            console.print(f"no MQTT broker configured: in-process bus ({len(messages)} messages queued)")
            if opts.idle_exit_s is None and not messages:
                console.print("nothing to consume; use --replay N or set FABMIND_MQTT_HOST")
                raise typer.Exit(1)
        console.print(f"monitor on {opts.mqtt_host or 'in-process bus'} topics {opts.topic_root}/+/+/+/trace; Ctrl-C stops")

        async def main():
            if messages and opts.mqtt_host:
                cfg = MqttConfig(opts.mqtt_host, opts.mqtt_port, opts.topic_root)
                asyncio.create_task(MqttPublisher(cfg).publish_all(messages))
            return await run_live(store, opts, source=source, config=MonitorConfig(warmup=warmup),
                                  on_alarm=default_diagnosis(store))

        stats = asyncio.run(main())
    r = stats.report
    t = Table(title="monitor")
    for k in ("messages", "received", "stored", "quarantined", "duplicates"):
        t.add_row(k, str(getattr(r, k)))
    t.add_row("alarms raised", str(stats.alarms_raised))
    console.print(t)


def _replay_messages(store, n_runs: int, topic_root: str):
    import time

    from fabmind.ingest.live import trace_messages
    from fabmind.monitor.runner import area_of_store

    runs = store.runs()
    if runs.empty:
        return []
    run_ids = list(runs.sort_values("start")["run_id"].tail(n_runs))
    traces = store.traces(run_ids)
    ordered = sorted(traces.values(), key=lambda tr: tr.start)
    return list(trace_messages(ordered, area_of=area_of_store(store), topic_root=topic_root,
                               retime_to=time.time() - 60))


def _act(alarm_id: str, action: str, engineer: str, db: str, minutes: int = 60, note: str = "") -> None:
    from fabmind.config import Settings
    from fabmind.services.alarms import act
    from fabmind.store import Store

    with Store(db or Settings().db_url) as store:
        a = act(store, alarm_id, action, engineer, minutes=minutes, note=note)
    console.print(f"{a['alarm_id']}: {a['state']}")


@alarm_app.command("list")
def alarm_list(db: str = typer.Option("", "--db"), all_: bool = typer.Option(False, "--all")) -> None:
    """Open alarms (or all), newest first."""
    from fabmind.config import Settings
    from fabmind.monitor.repository import load_alarms
    from fabmind.store import Store

    with Store(db or Settings().db_url) as store:
        recs = sorted(load_alarms(store.engine, only_open=not all_), key=lambda r: r.alarm.ts, reverse=True)
    t = Table(title="alarms")
    for c in ("alarm", "chamber", "state", "priority", "score", "seen", "message"):
        t.add_column(c)
    for r in recs:
        a = r.alarm
        t.add_row(a.alarm_id, a.chamber_id, a.state.value, a.priority, f"{a.score:.2f}", str(r.occurrences),
                  a.message[:60])
    console.print(t)


@alarm_app.command("ack")
def alarm_ack(alarm_id: str, by: str = typer.Option(..., "--by"), note: str = "", db: str = typer.Option("", "--db")):
    """Acknowledge an alarm."""
    _act(alarm_id, "acknowledge", by, db, note=note)


@alarm_app.command("shelve")
def alarm_shelve(alarm_id: str, by: str = typer.Option(..., "--by"), minutes: int = typer.Option(60),
                 note: str = "", db: str = typer.Option("", "--db")):
    """Shelve an alarm for some minutes (its repeats are suppressed meanwhile)."""
    _act(alarm_id, "shelve", by, db, minutes=minutes, note=note)


@alarm_app.command("clear")
def alarm_clear(alarm_id: str, by: str = typer.Option(..., "--by"), note: str = "", db: str = typer.Option("", "--db")):
    """Clear an alarm by hand."""
    _act(alarm_id, "clear", by, db, note=note)


@alarm_app.command("verdict")
def alarm_verdict(alarm_id: str, verdict: str = typer.Argument(..., help="true_fault | false_alarm | unsure"),
                  by: str = typer.Option(..., "--by"), root_cause: str = "", failure_mode: str = "", note: str = "",
                  db: str = typer.Option("", "--db")):
    """Record the engineer's verdict on an alarm (kept for retraining)."""
    from fabmind.config import Settings
    from fabmind.services.alarms import give_verdict
    from fabmind.store import Store

    with Store(db or Settings().db_url) as store:
        v = give_verdict(store, alarm_id, by, verdict, root_cause, failure_mode, note)
    console.print(f"{alarm_id}: verdict {v['verdict']['verdict']} by {by}")
