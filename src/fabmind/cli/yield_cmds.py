"""``fabmind analyze-yield`` and ``fabmind optimize``: yield commonality and setpoint recommendation.

Thin: parse, call :func:`fabmind.models.commonality.analyze_store` /
:func:`fabmind.models.process_data.optimize_recipe`, print rich tables (or JSON with ``--json``).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from fabmind.cli._args import parse_when as _when

console = Console()


def register(app: typer.Typer) -> None:
    app.command("analyze-yield")(analyze_yield)
    app.command("optimize")(optimize)


def _db(db: str) -> str:
    if db:
        return db
    from fabmind.config import Settings

    return Settings().db_url




def analyze_yield(
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL or the demo SQLite file)"),
    start: str = typer.Option("", help="window start (ISO date/time, UTC)"),
    end: str = typer.Option("", help="window end (ISO date/time, UTC)"),
    metric: str = typer.Option("yield_pct", help="'yield_pct' or 'defect_count'"),
    defect_class: str = typer.Option("", help="with --metric defect_count: only this defect class"),
    per_lot: bool = typer.Option(False, "--per-lot", help="use lot yields even when glass yields exist"),
    correction: str = typer.Option("bh", help="multiple-testing correction: bh (Benjamini-Hochberg) or holm"),
    top: int = typer.Option(10, help="how many causes to show"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Find yield excursions and rank their candidate causes (step x chamber, recipe, time window, PM event)."""
    from fabmind.models.commonality import CommonalityError, YieldCommonality, analyze_store
    from fabmind.store import Store

    store = Store(_db(db))
    try:
        with console.status("analysing route history and yields…"):
            report = analyze_store(
                store,
                _when(start),
                _when(end),
                metric=metric,
                per_substrate=not per_lot,
                defect_class=defect_class or None,
                analyzer=YieldCommonality(correction=correction, max_causes=top),
            )
    except CommonalityError as exc:
        console.print(f"[red]cannot analyse:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(asdict(report), default=str, indent=2))
        return
    console.print(
        f"{report.metric}: {report.n_lots:,} lots ({report.n_units:,} {report.unit}s), "
        f"{report.window_start:%Y-%m-%d} .. {report.window_end:%Y-%m-%d}; {report.n_candidates} "
        f"candidates tested, {report.correction.upper()} correction, {report.seconds:.2f} s"
    )
    exc_table = Table(title="excursions (lots beyond the control limit)")
    for col in ("id", "start", "end", "lots", "mean", "worst", "limit", "top cause"):
        exc_table.add_column(col)
    for e in report.excursions:
        causes = report.causes_for(e, 1)
        exc_table.add_row(
            e.excursion_id,
            f"{e.start:%m-%d %H:%M}",
            f"{e.end:%m-%d %H:%M}",
            str(e.n_lots),
            f"{e.mean_value:.2f}",
            f"{e.worst_value:.2f}",
            f"{e.control_limit:.2f}",
            causes[0].label() if causes else "-",
        )
    console.print(exc_table)
    cause_table = Table(title="ranked causes")
    for col in ("#", "kind", "cause", "effect", "effect σ", "p (adj.)", "lots", "onset", "end", "tree imp."):
        cause_table.add_column(col)
    for c in report.causes[:top]:
        cause_table.add_row(
            str(c.rank),
            c.kind.value,
            c.label(),
            f"{c.effect_size:+.2f}",
            f"{c.effect_sigma:+.2f}",
            f"{c.p_adjusted:.1e}",
            str(c.n_affected_lots),
            f"{c.onset:%m-%d %H:%M}" if c.onset else "-",
            f"{c.end:%m-%d %H:%M}" if c.end else "-",
            f"{c.tree_importance:.2f}",
        )
    console.print(cause_table)


def optimize(
    recipe: str = typer.Option(..., "--recipe", help="recipe id, e.g. CVD-SIN-GI"),
    target: str = typer.Option(
        "yield_pct", help="output to optimise: yield_pct or a measurement (thickness_nm, cd_um …)"
    ),
    objective: str = typer.Option("maximize", help="maximize, minimize, or a number to hit"),
    constraint: list[str] | None = typer.Option(  # noqa: B008 (typer's declaration style)
        None, "--constraint", "-c", help="NAME<=V, NAME>=V or NAME=LO..HI (repeatable)"
    ),
    pm_age_days: float = typer.Option(0.0, help="chamber state: days since the last PM"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL or the demo SQLite file)"),
    trials: int = typer.Option(120, help="optuna trials"),
    model: str = typer.Option("diagonal", help="surrogate: diagonal or quadratic response surface, or gp"),
    seed: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json", help="print the recommendation as JSON"),
) -> None:
    """Recommend setpoints for a recipe inside its limits and your constraints, with the predicted gain and why."""
    from fabmind.models.base import ModelError
    from fabmind.models.process_data import optimize_recipe, parse_constraint
    from fabmind.store import Store

    try:
        constraints = [parse_constraint(c) for c in constraint or []]
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    obj: str | float = objective if objective in ("maximize", "minimize") else float(objective)
    store = Store(_db(db))
    try:
        with console.status(f"fitting the {target} surrogate of {recipe} and searching setpoints…"):
            rec, surrogate = optimize_recipe(
                store,
                recipe,
                target=target,
                objective=obj,
                constraints=constraints,
                context={"pm_age_days": pm_age_days},
                kind=model,
                n_trials=trials,
                seed=seed,
            )
    except ModelError as exc:
        console.print(f"[red]cannot optimise:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(asdict(rec), default=str, indent=2))
        return
    console.print(
        f"{recipe}: {target} {rec.objective}; surrogate fitted on {surrogate.metadata.n_train} lot steps "
        f"(train RMSE {surrogate.train_rmse_:.3f})"
    )
    table = Table(title="recommended setpoints (moving one parameter at a time from the default)")
    for col in ("parameter", "default", "recommended", f"effect on {target}"):
        table.add_column(col)
    for e in rec.effects:
        table.add_row(e.feature, f"{e.expected:.4g}", f"{e.value:.4g}", f"{e.contribution:+.3f}")
    console.print(table)
    console.print(
        f"predicted {target}: {rec.predicted:.3f} ± {rec.predicted_std:.3f} (default {rec.predicted_default:.3f}); "
        f"gain {rec.gain:+.3f} ± {rec.gain_std:.3f}, P(gain > 0) = {rec.gain_probability:.2f}"
    )
    for name, v in rec.outputs.items():
        console.print(f"predicted {name}: {v:.4g}")
