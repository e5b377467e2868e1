"""``fabmind ingest`` and ``fabmind alarm`` are thin: parse, call, print."""

from __future__ import annotations

import pandas as pd
import typer
from typer.testing import CliRunner

from fabmind.cli import ingest, monitor


def _app() -> typer.Typer:
    app = typer.Typer()
    ingest.register(app)
    monitor.register(app)
    return app


def test_ingest_command_prints_counts(live_store, tmp_path):
    path = tmp_path / "yields.csv"
    pd.DataFrame({"lot_id": ["L1", "L2"], "substrate_id": ["", ""], "ts": ["2026-02-01T00:00:00", "x"],
                  "yield_pct": ["91.5", "90"]}).to_csv(path, index=False)
    url = str(live_store.engine.url)
    r = CliRunner().invoke(_app(), ["ingest", str(path), "--kind", "yields", "--db", url])
    assert r.exit_code == 0, r.output
    assert "yields.csv" in r.output and "invalid 1" in r.output
    assert len(live_store.yields()) == 1


def test_alarm_list_on_an_empty_store(live_store):
    r = CliRunner().invoke(_app(), ["alarm", "list", "--db", str(live_store.engine.url)])
    assert r.exit_code == 0 and "alarms" in r.output
