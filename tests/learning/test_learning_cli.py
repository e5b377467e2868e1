"""``fabmind retrain`` / ``drift`` / ``models rollback``: thin commands over the Python API."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fabmind.cli.learning import parse_every, register
from fabmind.models.anomaly import MSPC
from fabmind.models.registry import ModelRegistry

app = typer.Typer()
register(app)
runner = CliRunner()


def test_schedule_parsing():
    assert parse_every("6h") == 6 * 3600 and parse_every("daily") == 86400 and parse_every("30m") == 1800
    with pytest.raises(typer.BadParameter, match="--schedule"):
        parse_every("soon")


def test_models_rollback_is_one_command(tmp_path):
    reg = ModelRegistry(tmp_path / "models")
    X = np.random.default_rng(0).normal(size=(50, 3))
    reg.register(MSPC(n_components=1).fit(X), scope="ETCH-01/A", name="fdc-ETCH-ASI")
    reg.register(MSPC(n_components=2).fit(X), scope="ETCH-01/A", name="fdc-ETCH-ASI")
    out = runner.invoke(app, ["models", "rollback", "fdc-ETCH-ASI", "ETCH-01/A", "--home", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "fdc-ETCH-ASI:ETCH-01/A:v1" in out.output and reg.active("fdc-ETCH-ASI", "ETCH-01/A").number == 1
    out = runner.invoke(app, ["models", "rollback", "fdc-ETCH-ASI", "ETCH-01/B", "--home", str(tmp_path)])
    assert out.exit_code != 0 and "no model" in out.output


def test_retrain_without_verdicts_changes_nothing(demo_store, tmp_path):
    out = runner.invoke(app, ["retrain", "--db", demo_store.url, "--home", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "0 verdicts" in out.output and not (tmp_path / "models" / "index.json").exists()
