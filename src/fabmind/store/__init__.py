"""Persistence of the fab: one code path for SQLite (embedded default) and PostgreSQL.

>>> from fabmind.store import Store
>>> with Store("sqlite:///:memory:") as store:
...     store.revision >= "0001"
True
"""

from fabmind.store.engine import StoreURLError
from fabmind.store.ingest import REASONS, IngestReport
from fabmind.store.store import Store

__all__ = ["Store", "IngestReport", "REASONS", "StoreURLError"]
