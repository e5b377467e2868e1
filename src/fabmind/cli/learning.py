"""``fabmind retrain`` / ``fabmind drift`` / ``fabmind models rollback|activate|versions``.

Thin: parses, calls :mod:`fabmind.models.learning`, :mod:`fabmind.models.drift` and the registry, prints.
"""

from __future__ import annotations

import time
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

from fabmind.cli._args import parse_when as _when

console = Console()

_DB = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)")
_HOME = typer.Option(None, "--home", help="fabmind home (models in <home>/models; default FABMIND_HOME)")
_UNITS = {"m": 60, "h": 3600, "d": 86400}

models_app = typer.Typer(help="Registered models: versions, activation, rollback.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
    app.command("drift")(drift)
    app.add_typer(models_app, name="models")


def _open(db: str, home: str | None):
    from fabmind.config import Settings
    from fabmind.models.registry import ModelRegistry
    from fabmind.store import Store

    settings = Settings() if home is None else Settings(home=home)
    return Store(db or settings.db_url), ModelRegistry.from_settings(settings)


def _registry(home: str | None):
    from fabmind.config import Settings
    from fabmind.models.registry import ModelRegistry

    return ModelRegistry.from_settings(Settings() if home is None else Settings(home=home))




def parse_every(text: str) -> float:
    """``'6h'`` / ``'30m'`` / ``'1d'`` / ``'daily'`` / ``'hourly'`` -> seconds."""
    named = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0}
    if text in named:
        return named[text]
    try:
        value, unit = float(text[:-1]), _UNITS[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise typer.BadParameter(f"--schedule {text!r}: use e.g. 30m, 6h, 1d, hourly, daily, weekly") from None
    if value <= 0:
        raise typer.BadParameter(f"--schedule {text!r}: must be positive")
    return value * unit


def retrain(db: str = _DB, home: str = _HOME,
            now: str = typer.Option(None, help="treat this time as now (ISO; default: the latest run in the store)"),
            holdout: float = typer.Option(0.3, help="latest share of each model's runs since its first alarm kept "
                                                    "for evaluating candidates"),
            min_gain: float = typer.Option(0.2, help="required cut of the hold-out false-alarm rate (share)"),
            schedule: str = typer.Option("", help="repeat every interval (30m, 6h, daily ...); empty: once")) -> None:
    """Retrain the FDC models engineers' verdicts point at; promote a candidate only if it is better."""
    from fabmind.models.learning import LearningConfig, retrain_from_verdicts

    every = parse_every(schedule) if schedule else 0.0
    config = LearningConfig(holdout_fraction=holdout, min_gain=min_gain)
    while True:
        store, registry = _open(db, home)
        with store, console.status("retraining from verdicts ..."):
            report = retrain_from_verdicts(store, registry, _when(now), config)
        table = Table(title=f"{report.verdicts} verdicts; {len(report.decisions)} models retrained, "
                            f"{len(report.promoted)} promoted")
        for col in ("model", "chamber", "strategy", "promoted", "active -> candidate", "why"):
            table.add_column(col)
        for d in report.decisions:
            table.add_row(d.model, d.scope, d.strategy or "-", "yes" if d.promoted else "no",
                          f"{d.active_version.rsplit(':', 1)[-1]} -> "
                          f"{(d.candidate_version or '-').rsplit(':', 1)[-1]}", d.reason)
        console.print(table)
        for chamber, sensors in sorted(report.nuisance.items()):  # what the verdicts say about the sensors
            console.print(f"{chamber}: prone to false alarms: " + ", ".join(
                f"{n.sensor} ({n.false_alarms} false-alarm verdicts"
                f"{'' if n.droppable else '; a confirmed fault needs it: weighted, never dropped'})" for n in sensors))
        if report.promoted:
            console.print("undo a promotion with: fabmind models rollback <model> <chamber>")
        if not every:
            return
        console.print(f"next run in {every / 3600:.2g} h (Ctrl-C to stop)")
        time.sleep(every)


def drift(db: str = _DB, home: str = _HOME,
          now: str = typer.Option(None, help="end of the current window (ISO; default: the latest run)"),
          window_hours: float = typer.Option(24.0, help="current window length"),
          reference_start: str = typer.Option(None, help="reference window start (default: first run)"),
          reference_days: float = typer.Option(5.0, help="reference window length (the training window)"),
          chamber: list[str] = typer.Option(None, help="only these chambers"),
          all_models: bool = typer.Option(False, "--all", help="show models without drift too")) -> None:
    """Input drift (PSI + KS per feature vs the training window) and alarm precision per FDC model."""
    import pandas as pd

    from fabmind.domain import utc
    from fabmind.models.drift import DriftConfig, store_drift

    store, registry = _open(db, home)
    with store:
        starts = pd.to_datetime(store.runs()["start"], utc=True)
        if starts.empty:
            raise typer.BadParameter("the store has no runs")
        end = utc(_when(now)) if now else starts.max().to_pydatetime()
        ref0 = utc(_when(reference_start)) if reference_start else starts.min().to_pydatetime()
        config = DriftConfig(window=timedelta(hours=window_hours))
        with console.status("computing drift ..."):
            report = store_drift(store, registry, (ref0, ref0 + timedelta(days=reference_days)), end, config,
                                 chambers=chamber or None, engine=store.engine)
    table = Table(title=f"input drift, {end - config.window:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}")
    for col in ("model", "chamber", "runs", "max PSI", "drifted sensors", "drift"):
        table.add_column(col)
    for d in report.inputs:
        if d.drifted or all_models:
            table.add_row(d.model, d.scope, str(d.n_current), f"{d.max_psi:.2f}", ", ".join(d.sensors[:4]),
                          "[red]yes[/]" if d.drifted else (d.note or "no"))
    console.print(table)
    perf = [p for p in report.performance if p.drifted or all_models]
    if perf:
        pt = Table(title="alarm precision from verdicts")
        for col in ("model", "chamber", "verdicts", "precision", "drift"):
            pt.add_column(col)
        for p in perf:
            pt.add_row(p.model, p.scope, str(p.n_verdicts), f"{p.precision:.0%}", "[red]yes[/]" if p.drifted else "no")
        console.print(pt)
    for s in report.suggestions:
        console.print(f"[bold]retrain suggested[/] {s.model} @ {s.scope}: {s.reason}")
    if not report.suggestions:
        console.print("no drift over the thresholds: no retraining suggested")


@models_app.command("rollback")
def rollback(model: str = typer.Argument(..., help="model name, e.g. fdc-CVD-SIN-GI"),
             scope: str = typer.Argument(..., help="chamber id or equipment type, e.g. CVD-01/A"),
             home: str = _HOME) -> None:
    """Re-activate the version that was active before the current one."""
    from fabmind.models.base import ModelError

    registry = _registry(home)
    try:
        mv = registry.rollback(model, scope)
    except ModelError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"{model} @ {scope}: active version is now [bold]{mv.version}[/]")


@models_app.command("activate")
def activate(model: str, scope: str, version: str = typer.Argument(..., help="number or full version string"),
             home: str = _HOME) -> None:
    """Make an existing version the active one."""
    from fabmind.models.base import ModelError

    registry = _registry(home)
    try:
        mv = registry.activate(model, scope, int(version) if version.isdigit() else version)
    except ModelError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"{model} @ {scope}: active version is now [bold]{mv.version}[/]")


@models_app.command("versions")
def versions(model: str, scope: str, home: str = _HOME) -> None:
    """List a model's versions with their metrics and notes (the active one marked)."""
    from fabmind.models.base import ModelError

    registry = _registry(home)
    try:
        vs = registry.versions(model, scope)
    except ModelError as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table(title=f"{model} @ {scope}")
    for col in ("version", "active", "created", "runs", "metrics", "note"):
        table.add_column(col)
    for v in vs:
        table.add_row(v.version, "*" if v.active else "", v.created, str(v.n_train),
                      ", ".join(f"{k}={x:.3g}" for k, x in v.metrics.items()), v.note[:80])
    console.print(table)
