"""Service functions: one typed function behind three doors (API route, CLI command, LLM tool)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows of a DataFrame (timestamps as ISO strings, NaN as null)."""
    if frame.empty:
        return []
    out = frame.copy()
    # plain str column names: store frames carry SQLAlchemy's quoted_name (a str subclass), which makes
    # FastAPI's (pydantic's) JSON serialisation of the rows ~50x slower
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].map(lambda t: t.isoformat() if pd.notna(t) else None)
    out = out.astype(object).where(pd.notna(out), None)
    return out.to_dict(orient="records")
