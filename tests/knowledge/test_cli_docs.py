"""``fabmind docs add`` / ``fabmind docs search`` through the real Store (migrations included)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from fabmind.cli import docs


def _app() -> typer.Typer:
    app = typer.Typer()
    docs.register(app)

    @app.callback()
    def _root() -> None:  # keeps 'docs' a sub-command even when it is the only group
        pass

    return app


def test_add_then_search_then_skip(tmp_path, docs_dir):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    app = _app()
    out = runner.invoke(app, ["docs", "add", str(docs_dir), "--db", url])
    assert out.exit_code == 0, out.output
    assert "3 added" in out.output
    out = runner.invoke(app, ["docs", "search", "helium leak check around the lid", "--db", url, "-k", "2",
                              "--mode", "bm25"])
    assert out.exit_code == 0, out.output
    assert "Leak checking" in out.output and "score" in out.output
    again = runner.invoke(app, ["docs", "add", str(docs_dir / "tickets.csv"), "--db", url])
    assert "1 unchanged" in again.output
    bad = runner.invoke(app, ["docs", "add", str(tmp_path / "missing.pdf"), "--db", url])
    assert bad.exit_code == 1 and "missing.pdf" in bad.output
