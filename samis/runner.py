"""The per-image runner: every job over a dataset is a :class:`Task` run over :class:`Unit` s by :func:`run_task`.

A task says three things and nothing else:

- how to read one unit's inputs: ``load(job) -> payload`` (a module-level function: images, maps);
- how to compute one unit: ``worker(*worker_args)`` builds, once per process, a pure function
  ``compute(payload) -> result`` (a module-level factory: Ray and the process pool send it by name);
- where results live: a :class:`UnitStore` that knows which units already have a current result
  (by content key) and keeps new ones.

The runner does the rest, once for every job: it asks the store which units are done (a resumed run
skips them), runs the others here, in a pool of processes or on Ray workers
(:mod:`samis.engines`), hands each result to the store in the driver (so every engine writes the same
bytes), counts progress, and flushes the store every ``flush_every_s`` seconds and at the end, so
a killed run resumes after its last flush. Damaged stored results are the store's business: it moves
them aside and answers "not done" (see :mod:`samis.result_cache`).

On Ray the driver reads (``load``) and writes; the workers only compute. Locally, pool processes read
and compute, and the driver writes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Sequence

from samis.counts import check_count
from samis.engines import EngineSpec
from samis.runs import ProgressCallback, ProgressTracker

__all__ = ["EngineSpec", "Task", "Unit", "UnitStore", "RunOutcome", "run_task", "default_workers", "check_engine"]

#: the most processes a local run starts by default (more rarely helps: reading files becomes the limit)
MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """Processes for a local run: every core, at most :data:`MAX_DEFAULT_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def check_engine(engine: EngineSpec | None) -> EngineSpec:
    """The engine a run uses (local by default), checked before anything is written.

    Raises:
        EngineError: unknown engine, bad options, or a Ray address that does not answer.
    """
    return (engine or EngineSpec()).checked()


@dataclass(frozen=True)
class Unit:
    """One piece of a task's work: usually one image, or one (method, image) pair.

    Attributes:
        id: the image id; names the unit in errors and progress.
        key: the content key: what a stored result must have been made from to be reused.
        job: what the task's ``load`` reads (paths, sizes); picklable.
        group: what the image is processed for, when a task has several (the method); "" otherwise.
    """

    id: str
    key: Any = None
    job: Any = None
    group: str = ""

    @property
    def name(self) -> str:
        """``image`` or ``method/image``: unique within a run (names and ids never hold ``/``)."""
        return f"{self.group}/{self.id}" if self.group else self.id


class UnitStore(Protocol):
    """Where a task's results live (a cache of files, rows of a table, the prediction store).

    A store may subclass this for its defaults: no unit is stored yet (every unit is computed), and each
    result is written when it is put (nothing to flush)."""

    def has(self, unit: Unit) -> bool:
        """A current result for this unit is stored (made from the same content key); by default none is."""
        return False

    def put(self, unit: Unit, result: Any) -> None:
        """Keep one unit's result (written now, or at the next :meth:`flush`)."""

    def flush(self) -> None:
        """Write what :meth:`put` kept in memory, atomically (by default nothing: each result is written when put)."""


@dataclass(frozen=True)
class Task:
    """How one kind of per-image work is read, computed and sized (see the module docstring).

    Attributes:
        stage: the progress stage name (``evaluate``, ``ft``, ``sam-vit_h masks``).
        load: module-level ``load(job) -> payload``: reads one unit's inputs.
        worker: module-level factory; ``worker(*worker_args)`` returns ``compute(payload) -> result``.
        worker_args: picklable arguments of ``worker``.
        unit: what a unit is, for progress (``images``, ``image-method pairs``).
        batch_size: units sent to a Ray worker at once, and the largest chunk of a local pool.
        parallel_min: below this many units to compute, a local run stays in this process.
        in_process: a local run always computes here (a loaded model is not copied into processes).
        uses_gpu: Ray workers may hold GPUs.
        count_cached: progress counts stored units as done (resumed); else it counts only the work to do.
    """

    stage: str
    load: Callable[[Any], Any]
    worker: Callable[..., Callable[[Any], Any]]
    worker_args: tuple = ()
    unit: str = "images"
    batch_size: int = 16
    parallel_min: int = 48
    in_process: bool = False
    uses_gpu: bool = False
    count_cached: bool = True


@dataclass
class RunOutcome:
    """What :func:`run_task` did: the units computed now (in the order given) and those already stored."""

    computed: list[Unit] = field(default_factory=list)
    cached: list[Unit] = field(default_factory=list)
    seconds: float = 0.0  # wall time spent computing and storing (start-up, such as loading a model, excluded)


def run_task(task: Task, units: Sequence[Unit], store: UnitStore, *, engine: EngineSpec | None = None,
             workers: int | None = None, progress: ProgressCallback | None = None,
             notify: Callable[[str], None] | None = None, flush_every_s: float = 30.0) -> RunOutcome:
    """Compute every unit that ``store`` does not hold yet, and store the results.

    Args:
        task: the work (see :class:`Task`).
        units: the units of the run, in the order results should be reported.
        store: says which units are done and keeps new results.
        engine: local (default) or Ray; check it with :func:`check_engine` before writing anything else.
        workers: local processes (default: the engine's workers, else :func:`default_workers`); Ray takes the
            engine's workers.
        progress: optional callback, sent :class:`samis.runs.RunProgress` events.
        notify: told one-line notices (Ray workers started or lost).
        flush_every_s: seconds of work between two flushes of the store (and once at the end); longer when a
            flush takes more than a third of it (a large file rewritten whole), so flushing never takes more
            than a quarter of the run.

    Returns:
        a :class:`RunOutcome`.

    Raises:
        whatever ``load`` or ``compute`` raise (a :class:`samis.errors.SamisError` for bad input), and
        EngineError when Ray work is lost; results stored before the error are kept.
    """
    engine = engine or EngineSpec()
    if workers is not None:
        check_count("workers", workers, "workers")  # a pool of a million processes is a typo
    todo, cached = [], []
    for unit in units:
        (cached if store.has(unit) else todo).append(unit)
    counted = len(cached) if task.count_cached else 0  # stored units count as done, or are left out of the total
    tracker = ProgressTracker(progress, counted + len(todo), task.stage, unit=task.unit, done=counted).start()
    outcome = RunOutcome(cached=cached)
    if not todo:
        store.flush()
        return outcome
    if engine.is_local:
        results = _run_local(task, todo, workers or engine.workers or default_workers(), tracker)
    else:
        results = _run_on_ray(task, todo, engine, tracker, notify)
    done: set[str] = set()
    last_flush = time.perf_counter()
    with contextlib.closing(results):  # Ctrl-C between two writes still stops the workers at once
        for unit, result in results:
            store.put(unit, result)
            done.add(unit.name)
            tracker.advance()
            if time.perf_counter() - last_flush >= flush_every_s:
                started = time.perf_counter()
                store.flush()
                last_flush = time.perf_counter()
                # a store that rewrites a large file whole: at most a quarter of the time goes to flushing
                flush_every_s = max(flush_every_s, 3 * (last_flush - started))
    store.flush()
    outcome.seconds = tracker.elapsed()  # since the workers were ready
    outcome.computed = [unit for unit in todo if unit.name in done]  # Ray returns units as workers finish
    return outcome


# ---- local: this process or a pool of processes ----------------------------------------------------------
_task_here: tuple[Task, Callable] | None = None  # a pool process's task and compute function (see _start_process)


def _start_process(task: Task) -> None:
    global _task_here
    _exit_with_parent()
    _task_here = task, task.worker(*task.worker_args)


def _exit_with_parent() -> None:
    """End this pool process when the driver is gone (killed with SIGKILL, it cannot stop its pool): forked
    processes hold the pipes of their own work queue, so they would otherwise wait forever."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="samis-exit-with-parent", daemon=True).start()


def _compute_chunk(jobs: list) -> list:
    task, compute = _task_here
    return [compute(task.load(job)) for job in jobs]


def _run_local(task: Task, todo: list[Unit], workers: int, tracker: ProgressTracker) -> Iterator[tuple[Unit, Any]]:
    if task.in_process or workers <= 1 or len(todo) < task.parallel_min:
        compute = task.worker(*task.worker_args)
        tracker.restart_clock()  # building the compute function (loading a model) is not work on units
        for unit in todo:
            yield unit, compute(task.load(unit.job))
        return
    size = max(1, min(task.batch_size, len(todo) // (workers * 8) or 1))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    # fork: workers inherit the imported modules, so they start in milliseconds
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_process,
                             initargs=(task,)) as pool:
        for chunk, results in zip(chunks, pool.map(_compute_chunk, [[u.job for u in c] for c in chunks])):
            yield from zip(chunk, results)


# ---- Ray: the driver reads and writes, workers compute ---------------------------------------------------
def _run_on_ray(task: Task, todo: list[Unit], engine: EngineSpec, tracker: ProgressTracker,
                notify: Callable[[str], None] | None) -> Iterator[tuple[Unit, Any]]:
    from samis.engines.ray_engine import cluster_summary, run_on_actors  # imports Ray: only runs that use it

    def started(workers: int, per_cpu: float, per_gpu: float) -> None:
        if notify is not None:
            notify(f"{cluster_summary(workers, per_cpu, per_gpu)} on {engine.address or 'a local Ray'}")
        tracker.restart_clock()  # starting workers and loading models is not work on units

    by_name = {unit.name: unit for unit in todo}
    for name, result in run_on_actors(engine, task, [(u.name, u.job) for u in todo], on_ready=started, notify=notify):
        yield by_name[name], result
