"""``fabmind docs add PATH…`` and ``fabmind docs search "…"``: the knowledge base from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
docs_app = typer.Typer(help="The fab's documents: ingest manuals, SOPs, FMEA sheets and tickets; search them.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")


def _knowledge_base(db: str, dense: bool):
    from fabmind.config import Settings
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    store = Store(db or Settings().db_url)
    return store, KnowledgeBase(store, embedder="default" if dense else None)


@docs_app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (md, txt, html, pdf, csv, xlsx)")],
    kind: str = typer.Option(None, help="manual | sop | fmea | ticket | other (default: from header or file name)"),
    type_id: str = typer.Option("", "--type", help="equipment type the documents are about, e.g. DRYETCH-X"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
) -> None:
    """Ingest documents: unchanged ones are skipped, changed ones replaced."""
    from fabmind.knowledge import DocumentFormatError

    store, kb = _knowledge_base(db, dense=False)
    try:
        with console.status(f"ingesting {len(paths)} path(s)…"):
            report = kb.add(paths, kind=kind, type_id=type_id)
    except (FileNotFoundError, DocumentFormatError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    table = Table(title="documents")
    for col in ("document", "kind", "format", "status", "chunks", "flagged"):
        table.add_column(col, justify="right" if col in ("chunks", "flagged") else "left")
    for d in report.documents:
        flagged = f"[yellow]{d.flagged_chunks}[/yellow]" if d.flagged_chunks else "0"
        table.add_row(d.doc_id, d.kind, d.format, d.status, str(d.chunks), flagged)
    console.print(table)
    console.print(f"{report.added} added, {report.replaced} replaced, {report.unchanged} unchanged; "
                  f"{report.chunks} chunks written")


@docs_app.command("search")
def search(
    query: str = typer.Argument(..., help="question or keywords"),
    k: int = typer.Option(5, "-k", help="number of passages"),
    mode: str = typer.Option("hybrid", help="hybrid | bm25 | dense"),
    kind: str = typer.Option(None, help="only documents of this kind"),
    type_id: str = typer.Option(None, "--type", help="only documents about this equipment type (or none)"),
    db: str = typer.Option("", "--db", help="database URL (default: FABMIND_DB_URL)"),
) -> None:
    """Search the documents; every passage is shown with its citation and score."""
    store, kb = _knowledge_base(db, dense=mode != "bm25")
    try:
        hits = kb.search(query, k=k, mode=mode, kind=kind, type_id=type_id)
    except (ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    if not hits:
        console.print("no matching passages")
        return
    for i, h in enumerate(hits, start=1):
        flag = f"  [yellow]⚠ flagged: {h.flag_reason}[/yellow]" if h.flagged else ""
        console.print(f"[bold]{i}. {h.citation}[/bold]  [dim]score {h.score:.4f}[/dim]{flag}")
        text = h.text if len(h.text) <= 600 else h.text[:600] + " …"
        console.print(text, markup=False, highlight=False)
        console.print()
