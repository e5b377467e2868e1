"""Yield reports kept on disk under ``Settings.reports_dir``: generate, list, fetch (API, CLI, dashboard)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMATS = ("html", "md", "pdf")
_ID = re.compile(r"^R\d{8}-\d{6}-[0-9a-f]{4}$")


def generate_yield_report(store, settings, days: float = 30.0, user: str = "system", pdf: bool = True) -> dict[str, Any]:
    """Run the yield analysis agent over the last ``days`` and save HTML, Markdown (and PDF)."""
    import secrets

    from fabmind.agents import YieldAgent
    from fabmind.reports import save_report

    report = YieldAgent(store, settings).analyze(days, user=user)
    now = datetime.now(timezone.utc)
    report_id = f"R{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = Path(settings.reports_dir) / report_id
    folder.mkdir(parents=True, exist_ok=True)
    save_report(report, folder / "report.html")
    save_report(report, folder / "report.md")
    formats = ["html", "md"]
    if pdf:
        try:
            save_report(report, folder / "report.pdf")
            formats.append("pdf")
        except Exception as exc:  # noqa: BLE001 - the HTML and Markdown are still there; say why no PDF
            (folder / "pdf-error.txt").write_text(f"{type(exc).__name__}: {exc}")
    meta = {"report_id": report_id, "title": report.title, "created": now.isoformat(timespec="seconds"),
            "days": days, "mode": report.mode_label, "by": user, "formats": formats,
            "claims_verified": report.claims.n_verified, "claims_total": report.claims.n_claims,
            "seconds": round(report.seconds, 2)}
    (folder / "meta.json").write_text(json.dumps(meta, default=str, indent=1))
    return meta


def list_reports(settings) -> list[dict[str, Any]]:
    root = Path(settings.reports_dir)
    if not root.is_dir():
        return []
    metas = []
    for meta in root.glob("*/meta.json"):
        try:
            metas.append(json.loads(meta.read_text()))
        except ValueError:
            continue
    return sorted(metas, key=lambda m: m["created"], reverse=True)


def report_file(settings, report_id: str, fmt: str) -> Path:
    if not _ID.match(report_id):
        raise KeyError(f"no report {report_id!r}")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    path = Path(settings.reports_dir) / report_id / f"report.{fmt}"
    if not path.is_file():
        raise KeyError(f"report {report_id} has no {fmt} file")
    return path
