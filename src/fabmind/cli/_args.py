"""Argument parsing shared by the command groups."""

from __future__ import annotations

from datetime import datetime

import typer


def parse_when(text: str | None) -> datetime | None:
    """An ISO date/time option (``2026-01-12`` or ``2026-01-12T08:00``); empty means no bound."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date/time such as 2026-01-12 or 2026-01-12T08:00") from None
