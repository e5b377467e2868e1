"""``fabmind demo``: build the demo fab and show the product working on it, end to end.

simulate → store → knowledge base → FDC models (alarms vs the injected faults) → yield commonality →
setpoint recommendation → energy → fault assistant diagnosis + yield report → dashboard.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    days: int = typer.Option(30, help="days of fab history to simulate"),
    seed: int = typer.Option(0, help="random seed (same seed, same fab)"),
    db: str = typer.Option("", "--db", help="database URL (default: sqlite:///fabmind-demo.db)"),
    scale: str = typer.Option("demo", help="'demo' (≥12 tools), 'small', or a number of chambers"),
    home: Path = typer.Option(Path("fabmind-home"), help="folder for models and reports"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the dashboard at the end"),
    port: int = typer.Option(8000, help="dashboard port"),
) -> None:
    """Simulate a fab, train the small models, find the injected faults, diagnose one, write a yield report
    and serve the dashboard."""
    from fabmind.config import Settings
    from fabmind.sim import simulate
    from fabmind.store import Store

    url = db or "sqlite:///fabmind-demo.db"
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)  # the demo always starts from a fresh file
    settings = Settings(db_url=url, home=home)
    t0 = time.perf_counter()
    with console.status(f"[1/8] simulating {days} days of the demo fab (seed {seed})…"):
        result = simulate(days=days, seed=seed, scale=int(scale) if scale.isdigit() else scale)
    t_sim = time.perf_counter() - t0
    store = Store(url)
    t1 = time.perf_counter()
    with console.status(f"[2/8] writing to {url}…"):
        counts = store.write_batch(result.batch)
    _print_summary(result, counts, t_sim, time.perf_counter() - t1)

    kb = _step("3/8 knowledge base", _knowledge, store, result)
    _step("4/8 FDC models", _fdc, store, settings, result)
    _step("5/8 yield commonality", _yield, store, result)
    _step("6/8 setpoint optimisation", _optimize, store)
    _step("7/8 energy", _energy, store)
    _step("8/8 fault assistant and yield report", _assistant_and_report, store, settings, result, kb)
    if serve:
        _serve(store, settings, port)


def _step(title: str, fn, *args):
    console.rule(f"[bold]{title}")
    t = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as exc:  # noqa: BLE001 - one failing room must not hide the others in the demo
        console.print(f"[red]{title} failed: {type(exc).__name__}: {exc}[/red]")
        return None
    console.print(f"[dim]{title}: {time.perf_counter() - t:.1f} s[/dim]")
    return out


def _print_summary(result, counts: dict, t_sim: float, t_store: float) -> None:
    batch = result.batch
    n_values = sum(int(t.values.size) for t in batch.traces)
    table = Table(title="demo fab", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, n in [
        ("areas", len(batch.areas)), ("tools", len(batch.equipment)), ("chambers", len(batch.chambers)),
        ("sensors (per chamber type)", len(batch.sensors)), ("lots", len(batch.lots)), ("runs", len(batch.runs)),
        ("sensor readings", n_values), ("inspections", len(batch.inspections)), ("defects", len(batch.defects)),
        ("work orders", len(batch.work_orders)), ("energy readings", len(batch.energy_readings)),
        ("documents", len(batch.documents)), ("injected faults", len(result.faults)),
    ]:
        table.add_row(label, f"{n:,}")
    console.print(table)
    console.print(f"simulated in {t_sim:.1f} s, stored in {t_store:.1f} s")
    faults = Table(title="injected faults (ground truth)")
    for col in ("fault", "type", "chamber", "start", "severity"):
        faults.add_column(col)
    for f in result.faults:
        faults.add_row(f.fault_id, f.fault_type, f.chamber_id, f"{f.start:%Y-%m-%d %H:%M}", f"{f.severity:.2f}")
    console.print(faults)


def _knowledge(store, result):
    from fabmind.knowledge import KnowledgeBase

    kb = KnowledgeBase(store)
    reports = kb.add(result.batch.documents)
    n = len(reports) if hasattr(reports, "__len__") else len(result.batch.documents)
    console.print(f"{n} documents (manuals, SOPs, FMEA, fault tickets) chunked and indexed (BM25 + static embeddings)")
    return kb


def _fdc(store, settings, result):
    from fabmind.models.fdc import fdc_demo
    from fabmind.models.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    with console.status("training one MSPC (PCA T²/SPE) per chamber × recipe and scoring the rest of the window…"):
        report = fdc_demo(store, registry)
    table = Table(title="FDC alarms against the injected faults")
    for col in ("fault", "type", "chamber", "detected", "delay (runs)", "top sensor", "sensor the fault moves?"):
        table.add_column(col)
    for o in report.outcomes:
        table.add_row(o.fault_id, o.fault_type, o.chamber_id, "yes" if o.detected else "[red]no[/red]",
                      "" if o.delay_runs is None else str(o.delay_runs), o.top_sensor or "", "yes" if o.top1_hit else "no")
    console.print(table)
    console.print(f"detection rate {report.detection_rate:.2f} · false-alarm rate {report.false_alarm_rate:.3f} per run · "
                  f"top-1 sensor hit {report.top1_sensor_hit:.2f} · {report.n_scored_runs:,} runs scored")
    _keep_alarms(store, report.alarms)


def _keep_alarms(store, alarms, per_chamber: int = 25) -> None:
    """Store the strongest alarms of each chamber (the dashboard's alarm list), not every run over the limit."""
    by_chamber: dict[str, list] = {}
    for a in alarms:
        by_chamber.setdefault(a.chamber_id, []).append(a)
    keep = [a for group in by_chamber.values() for a in sorted(group, key=lambda a: -a.score)[:per_chamber]]
    if keep:
        store.upsert(keep)
    console.print(f"{len(keep)} alarms kept for the dashboard (strongest {per_chamber} per chamber)")


def _yield(store, result):
    from fabmind.models.commonality import analyze_store

    rep = analyze_store(store)
    faulty = {f.chamber_id for f in result.faults}
    table = Table(title=f"ranked causes ({len(rep.excursions)} excursions, {rep.n_candidates} candidates, "
                        f"{rep.seconds:.1f} s)")
    for col in ("#", "cause", "yield effect", "p (adj.)", "lots", "since", "injected fault there?"):
        table.add_column(col)
    for c in rep.causes[:8]:
        table.add_row(str(c.rank), c.label(), f"{c.effect_size:+.2f}", f"{c.p_adjusted:.1e}", str(c.n_affected_lots),
                      f"{c.onset:%m-%d %H:%M}" if c.onset is not None else "", "yes" if c.chamber_id in faulty else "")
    console.print(table)


def _optimize(store):
    from fabmind.models.process_data import optimize_recipe

    recipe = store.recipes()[0]
    rec, _ = optimize_recipe(store, recipe.recipe_id)
    table = Table(title=f"recommended setpoints for {recipe.recipe_id} (yield {rec.predicted:.2f} % ± "
                        f"{rec.predicted_std:.2f}, gain {rec.gain:+.2f} ± {rec.gain_std:.2f} points, "
                        f"P(better) {rec.gain_probability:.2f})")
    for col in ("parameter", "default", "recommended"):
        table.add_column(col)
    for name, value in rec.setpoints.items():
        table.add_row(name, f"{rec.default_setpoints[name]:.4g}", f"{value:.4g}")
    console.print(table)


def _energy(store):
    from fabmind.services.energy import energy_breakdown

    data = energy_breakdown(store)
    table = Table(title=f"energy: {data['total_kwh']:,.0f} kWh over the window; waste against each meter's baseline "
                        f"(estimated saving {data['savings_kwh']:,.0f} kWh)")
    for col in ("tool", "kind", "from", "to", "excess kWh", "why"):
        table.add_column(col)
    for w in data["waste"][:6]:
        table.add_row(w["equipment_id"], w["kind"], w["start"][:16], w["end"][:16], f"{w['kwh']:,.0f}", w["evidence"][:60])
    console.print(table)


def _assistant_and_report(store, settings, result, kb):
    from datetime import timedelta

    from fabmind.agents.assistant import FaultAssistant
    from fabmind.cli.assistant import print_answer
    from fabmind.services.reports import generate_yield_report
    from fabmind.sim.faults import FAULT_LIBRARY

    faults = [f for f in result.faults if f.fault_type in FAULT_LIBRARY]
    if faults:
        f = faults[-1]
        now = min(f.start + timedelta(hours=24), f.end or f.start + timedelta(hours=24))
        assistant = FaultAssistant(store, settings, knowledge=kb, now=now)
        answer = assistant.ask(f"{f.chamber_id} is alarming: what is wrong and what do I do?", user="demo")
        print_answer(answer)
        console.print(f"ground truth: {f.chamber_id} · {FAULT_LIBRARY[f.fault_type].failure_mode}")
    meta = generate_yield_report(store, settings, days=30, user="demo")
    folder = Path(settings.reports_dir) / meta["report_id"]
    console.print(f"yield report ({meta['mode']}): {meta['claims_verified']}/{meta['claims_total']} claims verified · "
                  f"{meta['seconds']} s · {folder / 'report.html'}")


def _serve(store, settings, port: int) -> None:
    import uvicorn

    from fabmind.api.app import create_app
    from fabmind.cli.serve import ensure_demo_admin

    user, password = ensure_demo_admin(store)
    app = create_app(settings, store=store)
    console.rule("[bold]dashboard")
    console.print(f"open [bold]http://127.0.0.1:{port}/[/bold] and log in as [bold]{user}[/bold] with password "
                  f"[bold]{password}[/bold] (generated for this demo; Ctrl-C stops)")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
