"""Both cores on a CPU: the rows of a pass split into fixed tiles that run on a thread pool.

The engine's matrix products are many small ones (k x k by k x rows): a multithreaded BLAS
spends more on synchronising its threads than it gains below k = 256, so one core idled.
Instead a batch is cut into tiles of :data:`TILE_ROWS` rows; the tiles run on a pool with
one thread per core, each with its own workspace and statistics, and BLAS runs one thread
per call (numpy's ufuncs and BLAS release the GIL, so the threads overlap). Results do not
depend on thread timing nor on the number of threads: the tiles are a fixed function of
the batch size, a row's values depend only on its tile, and the statistics of the tiles
are added in tile order. A smaller tile also keeps more of a layer's working set in cache.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

#: Rows per tile. A batch of 512 rows (the default) is two tiles, one per core here; a
#: tile below ~128 rows makes the per-call overhead of numpy dominate at k <= 32.
TILE_ROWS = 256


def default_threads():
    """Threads of the pool: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: Threads that run tiles at once: the environment variable ``SKPC_THREADS``, else one per
#: core (tests change it to check that results do not depend on it).
THREADS = int(os.environ.get("SKPC_THREADS", 0)) or default_threads()


#: Circuits with fewer sum-layer weights than this run each batch whole, on one thread:
#: there tiles and a second thread cost more than they bring. Measured on a quiet 2-core
#: machine (benchmarks/RESULTS.md section 1, ``speed_limit.py``): tiles on two threads made
#: plants k=16 (17k weights) 0.83x and k=32 (70k) 0.84x, and 784-pixel images k=16 (200k)
#: 1.13-1.17x, plants k=64 (279k) 1.17x, plants k=128 1.47x, images k=64 1.61x. The rule
#: depends on the circuit only, so results never depend on the machine's cores.
MIN_PARALLEL_WEIGHTS = 2**17


def threads_for(n_weights):
    """Threads for the tiles of a circuit with ``n_weights`` sum-layer weights."""
    return THREADS if n_weights >= MIN_PARALLEL_WEIGHTS else 1


def tile_rows_for(n_weights):
    """Rows per tile of a circuit with ``n_weights`` sum-layer weights (``None``: whole batches)."""
    return TILE_ROWS if n_weights >= MIN_PARALLEL_WEIGHTS else None


#: A scoring pass keeps no layer's products (:meth:`~skpc.engine.Circuit.log_likelihood`),
#: so its tiles may be smaller than training's: at most as many rows (a power of two, at
#: least ``MIN_SCORE_ROWS``, below which numpy's per-call overhead dominates) as keep the
#: widest layer's products within ``SCORE_TILE_BYTES``. Measured on the 2-core Xeon (2 MiB
#: of L2 per core), one thread, scoring rows/s against 256-row tiles: 784-pixel images
#: k=32 1.18x and k=64 1.23x with 128-row tiles; plants (k <= 128) keep their tiles.
SCORE_TILE_BYTES = 2**23
MIN_SCORE_ROWS = 64


def score_rows_for(n_weights, row_bytes):
    """Rows per scoring tile of a circuit with ``n_weights`` sum-layer weights whose widest
    layer holds ``row_bytes`` bytes of products per row."""
    fit = max(MIN_SCORE_ROWS, 1 << max(SCORE_TILE_BYTES // max(row_bytes, 1), 1).bit_length() - 1)
    rows = tile_rows_for(n_weights)
    return fit if rows is None else min(rows, fit)


_lock = threading.Lock()
_state = {"pool": None, "size": 0, "controller": None, "limiter": None, "depth": 0}


def _after_fork():
    # A forked child has none of the parent's threads: it makes its own pool on first use.
    global _lock
    _lock = threading.Lock()
    _state.update(pool=None, size=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def tiles(n, rows=-1):
    """Slices of ``rows`` rows (default :data:`TILE_ROWS`; ``None``: one slice) covering
    ``range(n)``, the last one shorter."""
    rows = TILE_ROWS if rows == -1 else (rows or max(n, 1))
    return [slice(start, min(n, start + rows)) for start in range(0, n, rows)]


def _pool():
    with _lock:
        if _state["pool"] is None or _state["size"] != THREADS:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=True)
            _state["pool"] = ThreadPoolExecutor(THREADS, thread_name_prefix="skpc")
            _state["size"] = THREADS
        return _state["pool"]


def threadpool_controller():
    """The process's one ``ThreadpoolController`` (creating one scans the loaded libraries:
    about 2 ms, more than a small k-means start takes). No lock: two threads that both
    create one get equivalent controllers."""
    if _state["controller"] is None:
        _state["controller"] = ThreadpoolController()
    return _state["controller"]


class single_threaded_blas:
    """Context in which BLAS runs one thread per call (re-entrant, for any thread).

    The first entry sets the limit and the last exit restores the previous one, so an
    estimator method can hold it for a whole fit while the engine enters it per pass.
    """

    def __enter__(self):
        with _lock:
            if _state["depth"] == 0:
                _state["limiter"] = threadpool_controller().limit(limits=1, user_api="blas")
            _state["depth"] += 1
        return self

    def __exit__(self, *exc):
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None


def run_waves(work, jobs, threads=None):
    """Run ``work(slot, job)`` for every job, ``threads`` (default ``THREADS``) at a time;
    yield results in job order.

    ``slot`` (0 .. threads - 1) names the buffers a job may use: the jobs of one wave have
    distinct slots, and the next wave starts only after the caller has consumed every
    result of this one, so a slot's buffers can be reused from wave to wave.
    """
    threads = THREADS if threads is None else threads
    with single_threaded_blas():
        if threads == 1 or len(jobs) == 1:
            for job in jobs:
                yield work(0, job)
            return
        pool = _pool()
        for start in range(0, len(jobs), threads):
            wave = jobs[start : start + threads]
            futures = [pool.submit(work, slot, job) for slot, job in enumerate(wave)]
            results = [f.result() for f in futures]
            yield from results


def run_striped(work, jobs, threads=None):
    """Run ``work(job)`` for every job: job i on thread ``i % threads`` (default ``THREADS``),
    each thread's jobs in order, with no barrier between them (for passes whose jobs share
    nothing, as scoring)."""
    stride = THREADS if threads is None else threads
    threads = min(stride, len(jobs))
    with single_threaded_blas():
        if threads <= 1:
            for job in jobs:
                work(job)
            return
        pool = _pool()
        futures = [pool.submit(_run_all, work, jobs[t::stride]) for t in range(threads)]
        for f in futures:
            f.result()


def _run_all(work, jobs):
    for job in jobs:
        work(job)
