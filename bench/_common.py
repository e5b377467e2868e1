"""Helpers shared by the benchmarks: where the public data sets are, and how results are written."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def datasets_dir() -> Path:
    """The public data sets: ``$FABMIND_DATASETS`` or ``../shared/datasets`` beside the project."""
    path = Path(os.environ.get("FABMIND_DATASETS", ROOT.parent / "shared" / "datasets"))
    if not path.is_dir():
        sys.exit(f"data sets not found at {path}; set FABMIND_DATASETS to the folder holding skab/, tep/, ...")
    return path


def write_result(name: str, result: dict, table_rows: list[tuple] | None = None,
                 header: tuple = ("metric", "fabmind", "baseline (same run)", "published")) -> Path:
    """Write ``bench/results/<name>.json`` and ``<name>.md`` and print the Markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {**result, "_meta": {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "python": platform.python_version(), "machine": platform.machine(),
                                  "cpus": os.cpu_count()}}
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(result, indent=2, default=float))
    if table_rows:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in table_rows]
        md = "\n".join(lines)
        (RESULTS / f"{name}.md").write_text(f"# {name}\n\n{md}\n")
        print(md)
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
