"""BLAS on one thread, cheaply and re-entrantly.

Per-chamber matrices are small (a few hundred runs x 100 indicators): a multi-threaded SVD of them
only fights the other workers for the cores (measured 6x slower on 2 busy cores). ``threadpoolctl``
does the limiting, but ``threadpool_limits()`` scans every loaded shared library each time it is
called (5 ms here, 740 calls to train 50 chambers = 4 s). This module keeps one
``ThreadpoolController`` per process (rebuilt only when new modules have been imported, since a new
extension may have brought its own BLAS) and does nothing when the caller is already inside a
one-thread block.

>>> with one_blas_thread():
...     with one_blas_thread():  # nested: free
...         pass
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager, nullcontext
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_controller: Any = None
_modules_seen = -1


def _get_controller() -> Any:
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _controller, _modules_seen = ThreadpoolController(), len(sys.modules)
    return _controller


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Context: BLAS limited to one thread in this block (nested blocks cost nothing)."""
    if getattr(_local, "depth", 0):
        _local.depth += 1
        try:
            yield
        finally:
            _local.depth -= 1
        return
    with _get_controller().limit(limits=1, user_api="blas"):
        _local.depth = 1
        try:
            yield
        finally:
            _local.depth = 0


def blas_threads_for(size: int) -> Any:
    """One BLAS thread for a decomposition of ``size`` values (small ones), else no limit."""
    return nullcontext() if size > 2_000_000 else one_blas_thread()
