"""``fabmind db`` commands (the CLI only calls the Store API)."""

from __future__ import annotations

import pyarrow.parquet as pq
import typer
from store_fab_data import small_batch
from typer.testing import CliRunner

from fabmind.cli import db as db_cli
from fabmind.store import Store


def _app() -> typer.Typer:
    app = typer.Typer()
    db_cli.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_db_info_quarantine_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'fab.db'}"
    with Store(url) as store:
        store.write_batch(small_batch(n_lots=1))
        store.quarantine("file:x.csv", "run", "end before start", {"run_id": "R1"}, code="malformed")
    runner = CliRunner()
    out = runner.invoke(_app(), ["db", "info", "--db", url])
    assert out.exit_code == 0 and "runs" in out.output and "6" in out.output
    out = runner.invoke(_app(), ["db", "quarantine", "--db", url])
    assert out.exit_code == 0 and "1 quarantined" in out.output and "malformed" in out.output
    target = tmp_path / "runs.parquet"
    out = runner.invoke(_app(), ["db", "export", "runs", str(target), "--db", url])
    assert out.exit_code == 0 and pq.read_table(target).num_rows == 6
