"""``fabmind train`` / ``fabmind score``: run-level FDC models on the store's data.

Thin: parses, calls :mod:`fabmind.models.fdc` and prints (rich progress bar and tables).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fabmind.cli._args import parse_when as _when

console = Console()

_DB = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)")
_HOME = typer.Option(None, "--home", help="fabmind home (models are kept in <home>/models; default FABMIND_HOME)")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("score")(score)


def _open(db: str, home: str | None):
    from fabmind.config import Settings
    from fabmind.models.registry import ModelRegistry
    from fabmind.store import Store

    settings = Settings() if home is None else Settings(home=home)
    return Store(db or settings.db_url), ModelRegistry.from_settings(settings)




def _progress(store) -> tuple[Progress, callable]:
    n = sum(len(store.recipes(c.type_id)) for c in store.chambers())
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("chamber × recipe", total=max(n, 1))

    def step(label: str) -> None:
        bar.update(task, advance=1, description=label)

    return bar, step


def train(db: str = _DB, home: str = _HOME,
          start: str = typer.Option(None, help="training window start (ISO; default: first run)"),
          end: str = typer.Option(None, help="training window end (ISO; default: start + --days)"),
          days: float = typer.Option(5.0, help="training window length when --end is not given"),
          confidence: float = typer.Option(0.999, help="control-limit confidence"),
          pdm: bool = typer.Option(True, "--pdm/--no-pdm",
                                   help="also train one failure-risk model per equipment type (pdm-risk)"),
          horizon: float = typer.Option(24.0, help="failure-risk horizon in hours")) -> None:
    """Train the FDC models (one MSPC per chamber and recipe, on normal runs) and the predictive-maintenance
    failure-risk models (one per equipment type, labelled by the store's corrective work orders); register
    them as active."""
    from fabmind.models.fdc import FdcConfig, train_store_fdc

    store, registry = _open(db, home)
    with store:
        bar, step = _progress(store)
        with bar:
            versions = train_store_fdc(store, registry, _when(start), _when(end),
                                       FdcConfig(train_days=days, confidence=confidence), progress=step)
    table = Table(title=f"{len(versions)} FDC models registered in {registry.root}")
    for col in ("model", "chamber", "version", "runs", "training window"):
        table.add_column(col)
    for v in versions:
        table.add_row(v.name, v.scope, v.version.rsplit(":", 1)[-1], str(v.n_train),
                      f"{v.train_start[:16]} .. {v.train_end[:16]}" if v.train_start else "")
    console.print(table)
    if pdm:
        _train_pdm(store, registry, horizon)


def _train_pdm(store, registry, horizon: float) -> None:
    from fabmind.models.pdm_store import train_store_pdm

    with store, console.status("failure-risk models") as status:
        results = train_store_pdm(store, registry, horizon_h=horizon, progress=lambda label: status.update(label))
    table = Table(title=f"failure-risk models (horizon {horizon:g} h)")
    for col in ("equipment type", "version", "labelled runs", "failures", "hold-out ROC-AUC", "note"):
        table.add_column(col)
    for r in results:
        auc = f"{r.holdout_auc:.2f}" if r.holdout_auc is not None else "n/a (hold-out has no failure)"
        table.add_row(r.type_id, r.version.version.rsplit(":", 1)[-1] if r.version else "-", str(r.n_train),
                      str(r.failures), auc if r.version else "-", r.reason)
    console.print(table)


def score(db: str = _DB, home: str = _HOME,
          start: str = typer.Option(None, help="score runs from (ISO)"),
          end: str = typer.Option(None, help="score runs until (ISO)"),
          limit: int = typer.Option(30, help="alarms to print (highest score first)"),
          save: bool = typer.Option(False, "--save/--no-save", help="write the alarms into the store")) -> None:
    """Score runs in a window with the active FDC models and print the alarms with their top sensors."""
    from fabmind.models.fdc import score_store_fdc

    store, registry = _open(db, home)
    with store:
        bar, step = _progress(store)
        with bar:
            alarms, scored = score_store_fdc(store, registry, _when(start), _when(end), progress=step)
        if save and alarms:
            store.upsert(alarms)
    console.print(f"scored {len(scored):,} runs: [bold]{len(alarms):,}[/] alarms"
                  + (" (saved)" if save and alarms else ""))
    table = Table()
    for col in ("time", "chamber", "run", "score / limit", "top sensors (deviation)", "model"):
        table.add_column(col)
    for a in sorted(alarms, key=lambda a: -a.score / a.limit)[:limit]:
        top = "; ".join(f"{c.sensor} {c.deviation:+.3g} {c.unit} ({c.deviation_sigma:+.1f}σ)" for c in a.contributions)
        table.add_row(a.ts.strftime("%Y-%m-%d %H:%M"), a.chamber_id, a.run_id or "", f"{a.score:.2f} / {a.limit:.2f}",
                      top, a.model_version)
    console.print(table)
