import os
import signal
import threading
import time

import numpy as np
import pytest

from fabmind.scale import InProcessExecutor, TaskFailed, make_executor


def _fit_task(seed: int, n: int) -> np.ndarray:
    # a stand-in "model": seeded fit that must give identical numbers wherever it runs
    from sklearn.decomposition import PCA

    X = np.random.default_rng(seed).normal(size=(n, 6))
    return PCA(n_components=3, random_state=seed).fit(X).components_


def _slow_square(x: int) -> int:
    time.sleep(0.4)
    return x * x


def _boom(x: int) -> int:
    raise ValueError(f"bad chamber {x}")


def test_in_process_map_order_and_progress():
    seen = []
    out = InProcessExecutor().map(_fit_task, [(1, 50), (2, 50)], progress=lambda d, n: seen.append((d, n)))
    assert len(out) == 2 and seen == [(1, 2), (2, 2)]


def test_in_process_failure_names_task():
    with pytest.raises(TaskFailed, match="chamber-7 failed: ValueError: bad chamber 7"):
        InProcessExecutor().map(_boom, [(7,)], keys=["chamber-7"])


def test_make_executor_default_is_in_process():
    assert isinstance(make_executor(""), InProcessExecutor)


@pytest.fixture(scope="module")
def dask_executor():
    pytest.importorskip("dask.distributed")
    ex = make_executor("local", n_workers=2)
    yield ex
    ex.close()


def test_dask_gives_same_models_as_in_process(dask_executor):
    args = [(s, 80) for s in range(6)]
    local = InProcessExecutor().map(_fit_task, args)
    remote = dask_executor.map(_fit_task, args)
    for a, b in zip(local, remote):
        np.testing.assert_array_equal(a, b)


def test_dask_worker_killed_mid_job_completes(dask_executor):
    client = dask_executor.client
    workers = list(client.scheduler_info()["workers"])
    assert len(workers) == 2

    pid = client.run(os.getpid, workers=[workers[0]])[workers[0]]

    def kill_one():
        time.sleep(0.6)  # tasks are running on both workers by now
        os.kill(pid, signal.SIGKILL)  # kill -9, no goodbye to the scheduler

    killer = threading.Thread(target=kill_one)
    killer.start()
    out = dask_executor.map(_slow_square, [(i,) for i in range(12)])
    killer.join()
    assert out == [i * i for i in range(12)]
    deadline = time.time() + 20  # the nanny restarts the dead worker under a new address
    while time.time() < deadline and workers[0] in client.scheduler_info()["workers"]:
        time.sleep(0.2)
    assert workers[0] not in client.scheduler_info()["workers"], "the worker was not killed"


def test_batched_map_groups_calls_and_keeps_order():
    from fabmind.scale.jobs import batched_map

    class TwoWorkers(InProcessExecutor):
        def __init__(self):
            super().__init__(workers=2)
            self.tasks = 0

        def map(self, fn, args, keys=None, progress=None):
            args = list(args)
            self.tasks += len(args)
            return super().map(fn, args, keys=keys, progress=progress)

    ex, seen = TwoWorkers(), []
    out = batched_map(ex, pow, [(i, 2) for i in range(100)], [f"k{i}" for i in range(100)],
                      progress=lambda done, total: seen.append((done, total)))
    assert out == [i * i for i in range(100)]
    assert ex.tasks == 50 and seen[-1] == (100, 100)  # 64 target tasks of ceil(100/64)=2 calls -> 50 tasks


def _malloc_trim() -> str | None:
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_cluster_workers_keep_glibc_malloc_defaults(dask_executor):
    """Dask's default MALLOC_TRIM_THRESHOLD_=65536 made NumPy/sklearn code 3x slower in the workers."""
    import os

    if "MALLOC_TRIM_THRESHOLD_" in os.environ:
        pytest.skip("set in this shell; workers inherit it")
    assert set(dask_executor.client.run(_malloc_trim).values()) == {None}
