"""``fabmind ask "…"`` (fault assistant) and ``fabmind analyze --since 30d --report out.html`` (yield agent).

With ``FABMIND_LLM_BASE_URL`` set the large model answers; otherwise (or with ``--no-llm``, or when
the endpoint fails) the built-in analyst does. The output always says which mode answered.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

console = Console()


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("analyze")(analyze)


def parse_since(text: str) -> float:
    """``'30d'`` / ``'12h'`` / ``'2w'`` / ``'45'`` (days) -> days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw]?)\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r}: use e.g. 30d, 12h or 2w")
    value, unit = float(m.group(1)), m.group(2) or "d"
    return value / 24 if unit == "h" else value * 7 if unit == "w" else value


def open_agents(db: str, no_llm: bool) -> tuple[Any, Any, Any]:
    """(settings, store, knowledge base) for the CLI; ingests the store's documents if the base is empty."""
    from fabmind.config import Settings
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    settings = Settings()
    if no_llm:
        settings = settings.model_copy(update={"llm_base_url": ""})
    store = Store(db or settings.db_url)
    kb = KnowledgeBase(store.engine)
    if not kb.documents():
        docs = store.documents()
        if docs:
            with console.status(f"indexing the {len(docs)} documents in the store…"):
                kb.add(docs)
    return settings, store, kb


def ask(
    question: str = typer.Argument(..., help="e.g. \"ETCH-03/B T² alarm at 10:32 - what is wrong?\""),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    user: str = typer.Option("cli", help="user the conversation belongs to"),
    conversation: str = typer.Option("", help="continue this conversation id"),
    hours: float = typer.Option(12.0, help="how many recent hours to examine"),
    report: str = typer.Option("", help="also write the answer to .html, .md or .pdf"),
    no_llm: bool = typer.Option(False, "--no-llm", help="use the built-in analyst even if an LLM is configured"),
) -> None:
    """Ask the equipment fault assistant (answers cite tool results; claims are checked)."""
    from fabmind.agents.assistant import FaultAssistant

    settings, store, kb = open_agents(db, no_llm)
    assistant = FaultAssistant(store, settings, knowledge=kb)
    stream = assistant.client is not None and sys.stdout.isatty()
    with console.status("gathering evidence…") if not stream else _nullcontext():
        answer = assistant.ask(question, user=user, conversation_id=conversation or None, hours=hours,
                               on_text=(lambda t: console.print(t, end="")) if stream else None)
    print_answer(answer)
    if report:
        from fabmind.reports import save_report

        console.print(f"written: {save_report(answer, Path(report))}")
    store.close()


def analyze(
    since: str = typer.Option("30d", help="window: 30d, 12h, 2w"),
    report: str = typer.Option("yield-report.html", help="output file: .html, .md or .pdf"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
    no_llm: bool = typer.Option(False, "--no-llm", help="use the built-in analyst even if an LLM is configured"),
) -> None:
    """Run the yield analysis agent over a window and write a complete report."""
    from fabmind.agents.yield_agent import YieldAgent
    from fabmind.reports import save_report

    settings, store, kb = open_agents(db, no_llm)
    with console.status(f"analysing the last {since} of yield…"):
        rep = YieldAgent(store, settings, knowledge=kb).analyze(days=parse_since(since))
    path = save_report(rep, Path(report))
    console.print(Panel(Markdown(rep.sections[0].body), title=f"{rep.title} · {rep.mode_label}"))
    for w in rep.warnings:
        console.print(f"[yellow]⚠ {w}[/yellow]")
    console.print(f"{rep.claims.summary()} · {len(rep.figures)} charts · {rep.seconds:.1f} s · written: {path}")
    store.close()


def print_answer(answer: Any) -> None:
    console.print(Panel(Markdown(answer.text), title=f"fault assistant · {answer.mode_label}"))
    for w in answer.warnings:
        console.print(f"[yellow]⚠ {w}[/yellow]")
    for p in answer.proposals:
        console.print(f"[cyan]proposal {p.proposal_id} (pending approval by a {p.required_role}): {p.summary}[/cyan]")
    style = "green" if not answer.claims.unverified else "yellow"
    console.print(f"[{style}]{answer.claims.summary()}[/{style}] · conversation {answer.conversation_id} · "
                  f"{answer.seconds:.1f} s")


def show_demo(store: Any, result: Any, settings: Any = None, report: Path | None = None) -> None:
    """For ``fabmind demo``: diagnose one injected fault with the assistant and write one yield report."""
    from datetime import timedelta

    from fabmind.agents.assistant import FaultAssistant
    from fabmind.agents.yield_agent import YieldAgent
    from fabmind.knowledge import KnowledgeBase
    from fabmind.reports import save_report
    from fabmind.sim.faults import FAULT_LIBRARY

    kb = KnowledgeBase(store.engine)
    if not kb.documents() and store.documents():
        kb.add(store.documents())
    faults = [f for f in result.faults if f.fault_type in FAULT_LIBRARY]
    if faults:
        f = faults[-1]
        assistant = FaultAssistant(store, settings, knowledge=kb,
                                   now=min(f.start + timedelta(hours=24), f.end or f.start + timedelta(hours=24)))
        answer = assistant.ask(f"What is wrong with {f.chamber_id.split('/')[0]}?", user="demo")
        print_answer(answer)
        console.print(f"ground truth: {f.chamber_id} · {FAULT_LIBRARY[f.fault_type].failure_mode}")
    rep = YieldAgent(store, settings, knowledge=kb).analyze(days=30)
    path = save_report(rep, report or Path("fabmind-yield-report.html"))
    console.print(f"yield report ({rep.mode_label}): {rep.claims.summary()} · written: {path}")


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None
