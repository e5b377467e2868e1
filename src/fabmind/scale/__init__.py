"""Run per-chamber work (training, batch scoring, backfills) in-process or on Dask, behind one interface."""

from fabmind.scale.executor import DaskExecutor, Executor, InProcessExecutor, TaskFailed, make_executor

__all__ = ["DaskExecutor", "Executor", "InProcessExecutor", "TaskFailed", "make_executor"]
