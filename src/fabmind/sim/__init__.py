"""The built-in demo fab: a seeded simulator that is the ground truth for end-to-end tests and benchmarks.

    >>> from fabmind.sim import simulate
    >>> result = simulate(days=1, seed=7, scale="small", documents=False)
    >>> len(result.batch.chambers)
    8

``simulate`` / :class:`Simulator` produce a :class:`SimResult`: ``batch`` (a
:class:`~fabmind.domain.FabBatch`), ``faults`` (the injected faults, ground truth) and ``layout``.
The fault library is :data:`fabmind.sim.faults.FAULT_LIBRARY`; the process ground truth is
:func:`fabmind.sim.process.response`; documents are written to files by
:func:`fabmind.sim.documents.write_documents`.
"""

from fabmind.sim.engine import DEFAULT_START, FaultSpec, SimResult, Simulator, WasteSpec, simulate
from fabmind.sim.faults import FAULT_LIBRARY, FaultType

__all__ = ["DEFAULT_START", "FAULT_LIBRARY", "FaultSpec", "FaultType", "SimResult", "Simulator", "WasteSpec", "simulate"]
