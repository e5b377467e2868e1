"""Ingest: upload MES/FDC/QMS exports (CSV or Parquet); bad rows are quarantined with the reason."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from fabmind.api.deps import DirectoryDep, Engineer, StoreDep, Viewer
from fabmind.api.paging import Limit, Offset, page_of

router = APIRouter(prefix="/api/ingest", tags=["ingest"])
MAX_BYTES = 200 * 1024 * 1024


@router.post("/files")
def upload(user: Engineer, store: StoreDep, directory: DirectoryDep, kind: str = Form(...),
           file: UploadFile = File(...)) -> dict:
    """Import one file of ``kind`` (lots, steps, runs, readings, inspections, defects, yields, work_orders)."""
    from fabmind.ingest.files import KINDS, import_file

    if kind not in KINDS:
        raise HTTPException(422, f"kind {kind!r}: use one of {', '.join(KINDS)}")
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise HTTPException(422, f"file {file.filename!r}: only .csv and .parquet exports are accepted")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(file.filename or "upload").name or "upload.csv")
        size = 0
        with path.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise HTTPException(413, f"file larger than {MAX_BYTES // (1024 * 1024)} MiB")
                out.write(chunk)
        result = import_file(store, path, kind)
    directory.audit(user, "ingest.file", target=file.filename or "", detail=asdict(result))
    return {**asdict(result), "reconciled": result.reconciled}


@router.get("/quarantine")
def quarantine(user: Viewer, store: StoreDep, source: str | None = None, limit: Limit = 100, offset: Offset = 0) -> dict:
    """Rejected records with their raw payload and the reason."""
    return page_of(store.quarantined(source=source), limit, offset)
