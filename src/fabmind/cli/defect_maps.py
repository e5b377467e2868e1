"""``fabmind defects …``: import AOI defect maps, classify their patterns, link patterns to chambers, draw maps.

Thin: parse, call :mod:`fabmind.ingest.defect_maps`, :mod:`fabmind.models.defect_maps`,
:mod:`fabmind.models.defect_map_causes` and :mod:`fabmind.reports.defect_map_plot`, print.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
defects_app = typer.Typer(help="Defect maps: import AOI exports, classify spatial patterns, pattern -> chamber.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(defects_app, name="defects")


def _db(db: str) -> str:
    if db:
        return db
    from fabmind.config import Settings

    return Settings().db_url


def _classifier(model: str):
    if model:
        from fabmind.models.base import SmallModel

        return SmallModel.load(model)
    from fabmind.config import Settings
    from fabmind.models.defect_map_causes import default_classifier

    with console.status("loading the pattern classifier (trained on simulated maps on first use, then cached)…"):
        return default_classifier(cache_dir=Settings().models_dir)


def _maps(csv: str, db: str, origin: str):
    if csv:
        from fabmind.ingest.defect_maps import maps_from_rows, read_defect_csv, validate_defect_rows

        good, bad = validate_defect_rows(read_defect_csv(csv), origin)
        if bad:
            console.print(f"[yellow]{len(bad)} rows skipped[/yellow] (e.g. {bad[0].reason})")
        return maps_from_rows(good)
    from fabmind.models.defect_map_causes import load_maps
    from fabmind.store import Store

    store = Store(_db(db))
    try:
        return load_maps(store)
    finally:
        store.close()


@defects_app.command("import")
def import_cmd(
    path: str = typer.Argument(..., help="CSV export: substrate_id/glass_id/wafer_id, x, y, class, dimensions"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    origin: str = typer.Option("lower_left", help="coordinate origin of the export: lower_left or center"),
) -> None:
    """Import defect maps; rows outside the substrate (or unreadable) are quarantined with the reason."""
    from fabmind.ingest.defect_maps import DefectMapImportError, import_defect_maps
    from fabmind.store import Store

    store = Store(_db(db))
    try:
        report = import_defect_maps(Path(path), store, origin=origin)
    except DefectMapImportError as exc:
        console.print(f"[red]cannot import:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    console.print(f"{report.received} rows: {report.stored} stored on {len(report.substrates)} substrates, "
                  f"{report.quarantined} quarantined {report.reasons or ''}")


@defects_app.command("classify")
def classify_cmd(
    csv: str = typer.Option("", "--csv", help="classify the maps of this export (default: the store's maps)"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    model: str = typer.Option("", "--model", help="a saved classifier (`fabmind defects train`)"),
    origin: str = typer.Option("lower_left", help="coordinate origin of the CSV: lower_left or center"),
    limit: int = typer.Option(50, help="rows to show"),
    as_json: bool = typer.Option(False, "--json", help="print every prediction as JSON"),
) -> None:
    """Classify defect maps into spatial patterns, with probability and a novelty flag."""
    maps = _maps(csv, db, origin)
    preds = _classifier(model).classify_maps(maps)
    if as_json:
        print(json.dumps([asdict(p) for p in preds], indent=2))
        return
    table = Table(title=f"{len(preds)} defect maps")
    for col in ("substrate", "defects", "pattern", "p", "components", "novelty"):
        table.add_column(col)
    for p in preds[:limit]:
        table.add_row(p.substrate_id, str(p.n_defects), p.label, f"{p.probability:.2f}", " + ".join(p.components),
                      f"{p.novelty:.2f}" + (" [red]novel[/red]" if p.is_novel else ""))
    console.print(table)


@defects_app.command("causes")
def causes_cmd(
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    start: str = typer.Option("", help="window start (ISO date/time, UTC)"),
    end: str = typer.Option("", help="window end (ISO date/time, UTC)"),
    model: str = typer.Option("", "--model", help="a saved classifier (`fabmind defects train`)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Which chamber the substrates of each defect-map pattern shared (pattern -> cause evidence)."""
    from fabmind.models.defect_map_causes import pattern_evidence
    from fabmind.store import Store

    clf = _classifier(model)
    store = Store(_db(db))
    try:
        with console.status("classifying maps and testing chambers…"):
            report = pattern_evidence(store, datetime.fromisoformat(start) if start else None,
                                      datetime.fromisoformat(end) if end else None, classifier=clf)
    finally:
        store.close()
    if as_json:
        data = asdict(report)
        data.pop("predictions")
        print(json.dumps(data, default=str, indent=2))
        return
    console.print(f"{report.n_maps} maps: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
    table = Table(title="pattern -> chamber evidence")
    for col in ("#", "pattern", "chamber", "step", "substrates", "share", "peers", "p", "failure modes"):
        table.add_column(col)
    for e in report.evidence:
        table.add_row(str(e.rank), e.pattern, e.chamber_id, e.step_id or "any", str(e.n_substrates), f"{e.share:.0%}",
                      f"{e.peer_share:.0%}", f"{e.p_value:.1e}", "; ".join(m.failure_mode for m in e.failure_modes))
    console.print(table)


@defects_app.command("plot")
def plot_cmd(
    substrate: str = typer.Argument(..., help="substrate (glass / wafer) id"),
    out: str = typer.Option(..., "--out", help="output file (.png or .svg)"),
    csv: str = typer.Option("", "--csv", help="take the map from this export (default: the store)"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    model: str = typer.Option("", "--model", help="a saved classifier; '-' draws without classifying"),
    origin: str = typer.Option("lower_left", help="coordinate origin of the CSV: lower_left or center"),
) -> None:
    """Draw one substrate's defect map with its classified pattern and probability."""
    from fabmind.reports.defect_map_plot import plot_defect_map

    maps = [m for m in _maps(csv, db, origin) if m.substrate_id == substrate]
    if not maps:
        console.print(f"[red]no defects for substrate {substrate!r}[/red]")
        raise typer.Exit(2)
    pred = None if model == "-" else _classifier(model).classify_maps(maps)[0]
    console.print(f"wrote {plot_defect_map(maps[0], pred, Path(out))}")


@defects_app.command("train")
def train_cmd(
    out: str = typer.Option(..., "--out", help="where to save the classifier (.pkl; a .json sidecar is written)"),
    maps: int = typer.Option(9000, help="simulated maps to train on"),
    seed: int = typer.Option(0),
) -> None:
    """Train the pattern classifier on simulated maps and save it."""
    from fabmind.models.defect_maps import train_pattern_classifier

    with console.status(f"training on {maps} simulated maps…"):
        clf = train_pattern_classifier(n_maps=maps, seed=seed)
    console.print(f"saved {clf.save(Path(out))} (classes: {', '.join(clf.classes_)})")
