"""Pagination: every list endpoint answers ``{"items": [...], "total": n, "limit": l, "offset": o}``."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import pandas as pd
from fastapi import Query
from pydantic import BaseModel

from fabmind.services import records

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]


def page_of(frame: pd.DataFrame, limit: int, offset: int) -> dict[str, Any]:
    return {"items": records(frame.iloc[offset : offset + limit]), "total": int(len(frame)), "limit": limit,
            "offset": offset}
