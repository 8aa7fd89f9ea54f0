"""Replications as Dask tasks: a running ``dask scheduler`` or a local cluster of processes.

:func:`connect` opens a :class:`Cluster` (``--scheduler tcp://HOST:PORT`` or ``--workers N``);
:func:`jsim.engine.simulate` and :func:`jsim.analysis.variants.run_variants` take it as
``cluster=`` and submit one task per (version, replication). Results are bit-identical to a
local run: replication r's seed, ``replication_seed(root, r)``, is computed on the client and
sent with the task, each task runs exactly the code a local run runs (one engine ``run`` on that
seed, its customer chunks seeded by ``chunk_states`` whatever the thread count), and the runs are
gathered in replication order before ``SimulationResult.from_runs``. A task whose worker dies
is run again by the scheduler on another worker with the same seed, so the answer does not
change.

Threads: each task sets numba's thread count to the cores of its machine divided by the worker
threads on that machine (never more than numba's own maximum), so N workers on one machine do
not oversubscribe its cores; a local cluster also starts its workers with ``NUMBA_NUM_THREADS``
set so. Results never depend on the thread count.

Dask is an optional extra (``pip install 'jsim[distributed]'``): without it :func:`connect`
raises :class:`~jsim.errors.InputError` saying what to install.
"""

from __future__ import annotations

__all__ = ["Cluster", "connect", "check_cluster_args", "INSTALL_HINT", "CONNECT_TIMEOUT"]

import os
import re
from contextlib import contextmanager

import numpy as np

from ..errors import InputError

#: what to install for ``--scheduler``/``--workers``
INSTALL_HINT = "pip install 'jsim[distributed]'"
#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT = 10.0
#: local workers at most (``--workers``)
MAX_WORKERS = 256
#: customer chunks per task when a replication is split (``FastEngine.CHUNK_SIZE`` customers each)
CHUNKS_PER_TASK = 64
#: partial counts summed per reduction task
REDUCE_FANIN = 8

_ADDRESS = re.compile(r"^tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


def check_cluster_args(scheduler=None, workers=None) -> None:
    """Check ``scheduler`` and ``workers`` (the ``--scheduler``/``--workers`` values) without connecting.

    Raises
    ------
    InputError
        Both given; an address that is not ``tcp://HOST:PORT``; ``workers`` not within
        [1, MAX_WORKERS]; ``distributed`` not installed.
    """
    if scheduler is not None and workers is not None:
        raise InputError(
            f"--scheduler and --workers are exclusive, got --scheduler {scheduler} and --workers {workers} "
            "(use a running scheduler's address, or N local worker processes, not both)",
            params=("scheduler", "workers"),
        )
    if scheduler is not None:
        m = _ADDRESS.match(str(scheduler))
        if not m or not 0 < int(m.group(2)) < 65536:
            raise InputError(
                f"--scheduler must be a scheduler's address tcp://HOST:PORT, got {scheduler!r} "
                "(e.g. --scheduler tcp://127.0.0.1:8786, the address `dask scheduler` prints)",
                params=("scheduler",),
            )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS
    ):
        raise InputError(
            f"--workers must be a whole number within [1, {MAX_WORKERS}], got {workers!r} (e.g. --workers 2)",
            params=("workers",),
        )
    if scheduler is not None or workers is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            flag = "--scheduler" if scheduler is not None else "--workers"
            raise InputError(
                f"{flag} needs Dask's distributed package, which is not installed ({INSTALL_HINT})",
                params=("scheduler",) if scheduler is not None else ("workers",),
            ) from None


def _threads_per_worker(n_worker_threads: int) -> int:
    """numba threads for one worker thread on a machine whose worker threads number ``n_worker_threads``."""
    return max(1, (os.cpu_count() or 1) // max(1, n_worker_threads))


def _cap_threads(threads_by_host: dict) -> None:
    """Set numba's threads for this task: the machine's cores shared among the worker threads on it."""
    import numba

    try:
        from distributed import get_worker

        host = get_worker().address.rsplit(":", 1)[0]
    except (ImportError, ValueError):
        host = None
    n = threads_by_host.get(host, 1)
    numba.set_num_threads(min(numba.config.NUMBA_NUM_THREADS, _threads_per_worker(n)))


def _run_replication(engine, model, seed, threads_by_host):
    """The task: one replication of ``model`` on ``seed`` (what a local run does), numba's threads capped."""
    _cap_threads(threads_by_host)
    return engine.run(model, seed, None)


def _chunk_counts(engine, model, seed, lo, hi, threads_by_host):
    """The task: summed integer counts of customer chunks ``lo..hi-1`` of one replication, and its seconds."""
    import time

    _cap_threads(threads_by_host)
    t0 = time.perf_counter()
    counts = engine.chunk_counts(model, seed, lo, hi)
    return counts, time.perf_counter() - t0


def _add_counts(*parts):
    """The task that reduces partial counts on a worker: integer sums, exact in any grouping."""
    counts = [np.array(a, copy=True) for a in parts[0][0]]
    for part, _ in parts[1:]:
        for total, a in zip(counts, part):
            total += a
    return tuple(counts), sum(seconds for _, seconds in parts)


def _run_from_counts(engine, model, seed, reduced):
    """The task that turns a replication's reduced counts into its Run (exposures drawn as a local run draws them)."""
    counts, seconds = reduced
    return engine.run_from_counts(model, seed, counts, seconds)


class Cluster:
    """A connection to Dask workers that runs replications as tasks (open it with :func:`connect`).

    Attributes
    ----------
    client : distributed.Client
    address : str
        The scheduler's address.
    """

    def __init__(self, client):
        self.client = client
        self.address = client.scheduler.address

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def _threads_by_host(self) -> dict:
        by_host: dict = {}
        for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
            host = address.rsplit(":", 1)[0]
            by_host[host] = by_host.get(host, 0) + int(info.get("nthreads", 1))
        return by_host

    def submit_runs(self, model, engine, seeds, chunks_per_task: int = CHUNKS_PER_TASK) -> list:
        """Tasks that run ``engine.run(model, seed)`` for each seed; returns one future of a Run per seed, in order.

        The model is scattered to every worker once, not sent with every task. A replication of
        more than ``chunks_per_task`` customer chunks, of an engine that can split one
        (``n_chunks``, ``chunk_counts``, ``run_from_counts``: the fast engine without word of
        mouth or queues), is split into tasks of ``chunks_per_task`` chunks whose integer counts
        are summed on the workers (:data:`REDUCE_FANIN` at a time), so neither a worker nor the
        client holds more than a few chunks' buffers and one replication's totals.
        """
        [model_future] = self.client.scatter([model], broadcast=True, hash=False)  # every worker can start at once
        threads = self._threads_by_host()
        submit = self.client.submit
        futures = []
        for seed in seeds:
            n_chunks = engine.n_chunks(model, seed) if hasattr(engine, "chunk_counts") else None
            if n_chunks is None or n_chunks <= chunks_per_task:
                futures.append(submit(_run_replication, engine, model_future, seed, threads, pure=False))
                continue
            parts = [
                submit(_chunk_counts, engine, model_future, seed, lo, lo + chunks_per_task, threads, pure=False)
                for lo in range(0, n_chunks, chunks_per_task)
            ]
            while len(parts) > 1:
                parts = [
                    submit(_add_counts, *parts[i : i + REDUCE_FANIN], pure=False)
                    for i in range(0, len(parts), REDUCE_FANIN)
                ]
            futures.append(submit(_run_from_counts, engine, model_future, seed, parts[0], pure=False))
        return futures

    def gather_runs(self, futures, progress=None) -> list:
        """The runs of ``futures`` in their order (a task lost with its worker is run again by the scheduler).

        ``progress(done, total)`` is called as tasks finish.
        """
        from distributed import as_completed

        if progress is not None:
            for done, _ in enumerate(as_completed(futures), start=1):
                progress(done, len(futures))
        runs = self.client.gather(futures)
        for future in futures:
            future.release()
        return runs

    def map_models(self, models, engine, seeds, window: int | None = None):
        """Yield ``(model, runs)`` for each model of the iterable ``models``, in order, each run on every seed.

        At most ``window`` models are in flight (default: enough to keep every worker busy), so
        a long iterable (a sweep, a Sobol sample) is compiled and sent as the cluster works
        through it, not all at once.
        """
        from collections import deque

        if window is None:
            window = max(2, -(-2 * self.n_workers // max(1, len(seeds))) + 1)
        models, pending, exhausted = iter(models), deque(), False
        while True:
            while not exhausted and len(pending) < window:
                model = next(models, None)
                if model is None:
                    exhausted = True
                else:
                    pending.append((model, self.submit_runs(model, engine, seeds)))
            if not pending:
                return
            model, futures = pending.popleft()
            yield model, self.gather_runs(futures)

    def run_replications(self, model, engine, seeds, progress=None) -> list:
        """``[engine.run(model, seed) for seed in seeds]`` on the cluster, in the order of ``seeds``."""
        return self.gather_runs(self.submit_runs(model, engine, seeds), progress)


@contextmanager
def connect(scheduler=None, workers=None, timeout: float | None = None):
    """A :class:`Cluster`: the scheduler at ``scheduler`` (``tcp://HOST:PORT``) or ``workers`` local processes.

    Yields None when both are None (run locally). A local cluster has one thread per worker
    process and starts its workers with ``NUMBA_NUM_THREADS`` = cores // ``workers``; it is shut
    down on exit. A scheduler is only disconnected from.

    Raises
    ------
    InputError
        Bad arguments, ``distributed`` not installed (:func:`check_cluster_args`), or no scheduler
        answering at ``scheduler``, or one without workers, within ``timeout`` seconds (default
        :data:`CONNECT_TIMEOUT`).
    """
    check_cluster_args(scheduler, workers)
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    if scheduler is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s ({type(exc).__name__}) "
                "(start one with `dask scheduler` and `dask worker ADDRESS`, check the address, or use --workers N)",
                params=("scheduler",),
            ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError):
                raise InputError(
                    f"--scheduler {scheduler}: the scheduler has no workers after {timeout:g} s "
                    f"(start some with `dask worker {scheduler}`, or use --workers N)",
                    params=("scheduler",),
                ) from None
            yield Cluster(client)
        finally:
            client.close()
        return
    env = {"NUMBA_NUM_THREADS": str(_threads_per_worker(workers))}
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # its HTTP server on a free port (8787 may be taken by another cluster)
        env=env,
        silence_logs=40,
    ) as local:
        with Client(local, set_as_default=False) as client:
            yield Cluster(client)
