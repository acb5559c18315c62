"""Run a driver's items on Ray actors: long-lived workers, small batches, bounded retries on lost workers.

:func:`run_on_actors` is the one loop every ``--engine ray`` run uses (SAM masks, baselines, evaluation).
Each worker is a Ray actor built once from ``factory(*args)`` — for SAM that loads the model once — and
then called with batches of ``(key, payload)``; it returns ``(key, result)`` for each. The driver reads
the payloads (images, maps) just before sending a batch and gets the results back as batches finish;
it keeps two batches queued per worker so no worker waits for the driver.

Faults: a worker that dies (killed actor, crashed process, lost node) loses only its unfinished batches,
and nothing of them was written, because only the driver writes. Those batches go back to the queue for
the remaining workers; a batch that has failed :data:`MAX_ATTEMPTS` times, or work left when every
worker is gone, stops the run with one :class:`~samis.errors.EngineError` naming the images. Errors of
the work itself (a :class:`~samis.errors.SamisError` raised in a worker) are raised again as they are.

Ctrl-C (or any error) in the driver kills the actors; a Ray started for the run is stopped.

``ray`` is imported here only, and this module only when a run asks for Ray.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections import Counter, deque
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from samis.engines.spec import EngineSpec
from samis.errors import EngineError, SamisError

#: attempts per batch before the run stops naming its items (1 try + 2 retries on other workers)
MAX_ATTEMPTS = 3
#: batches queued per worker at a time
QUEUE_PER_WORKER = 2
#: numbers the runs of this process (in the workers' names)
_runs = itertools.count(1)
#: Ray actor names: ``samis-<driver pid>-<run>-worker-<n>`` (``ray list actors`` shows which is which)
WORKER_NAME = "samis-{pid}-{run}-worker-{number}"


def _import_ray():
    try:
        import ray  # ray (seconds to import) only when a run asks for it
    except ImportError:  # pragma: no cover - ray is in requirements.txt
        raise EngineError("--engine ray needs the ray package: pip install -r requirements.txt") from None
    return ray


#: seconds to wait for a Ray cluster to answer once its port accepts connections
JOIN_TIMEOUT_S = 25.0


def _join(ray, address: str, options: dict) -> None:
    """``ray.init(address=…)``, given up after :data:`JOIN_TIMEOUT_S` (Ray itself waits minutes on a port
    that answers but is no Ray cluster)."""
    outcome: dict = {}

    def connect() -> None:
        try:
            ray.init(address=address, **options)
            outcome["ok"] = True
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="samis-ray-join", daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT_S)
    if "error" in outcome:
        raise outcome["error"]
    if not outcome.get("ok"):
        raise EngineError(f"no Ray cluster answered at {address} within {JOIN_TIMEOUT_S:.0f} s (the port is open: "
                          "is it the address `ray start --head` printed?)")


#: A Ray connection belongs to the whole process, so runs in one process (dashboard sessions) share it:
#: the first connects (or starts a local Ray), the last to finish disconnects (and stops it). Nothing
#: waits on a lock, so a run that is abandoned half-way can never block the next one.
_SHARED = {"runs": 0, "address": None}
_SHARED_LOCK = threading.Lock()


@contextlib.contextmanager
def ray_session(spec: EngineSpec) -> Iterator[Any]:
    """Connected to Ray for the block: the cluster at ``spec.address``, an already connected one, or a
    local Ray started here (and stopped when the last run of this process using it ends).

    Raises:
        EngineError: the address cannot be reached, Ray refuses the connection, or another run of this
            process is connected to a different Ray.
    """
    spec = spec.checked()
    ray = _import_ray()
    with _SHARED_LOCK:
        outside = not _SHARED["runs"] and ray.is_initialized()  # a test or a notebook connected: leave it running
        if _SHARED["runs"] and spec.address != _SHARED["address"]:
            raise EngineError(f"another run in this process is using Ray at {_SHARED['address'] or 'a local Ray'}; "
                              f"run on {spec.address or 'a local Ray'} when it has finished")
        if not outside:
            if not _SHARED["runs"]:
                _connect(ray, spec)
                _SHARED["address"] = spec.address
            _SHARED["runs"] += 1
    if outside:
        yield ray
        return
    try:
        yield ray
    finally:
        with _SHARED_LOCK:
            _SHARED["runs"] -= 1
            if not _SHARED["runs"]:
                ray.shutdown()


def _connect(ray, spec: EngineSpec) -> None:
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                   configure_logging=True)
    try:
        if spec.address:
            _join(ray, spec.address, options)
        else:
            # workers of a local Ray import samis from where this process does, installed or not
            package_parent = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)
            ray.init(num_cpus=os.cpu_count() or 1, runtime_env={"env_vars": {"PYTHONPATH": path}}, **options)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as error:
        first = (str(error).strip().splitlines() or [error.__class__.__name__])[0]
        raise EngineError(f"cannot connect to Ray at {spec.address or 'a local Ray'}: {first[:200]}") from None


def _workers(count: int) -> str:
    return f"{count} worker" if count == 1 else f"{count} workers"


def _need(count: int) -> str:
    return "needs" if count == 1 else "need"


def worker_layout(ray, spec: EngineSpec, n_batches: int, uses_gpu: bool) -> tuple[int, float, float]:
    """(workers, CPUs per worker, GPUs per worker) for a run, checked against the cluster's resources.

    Args:
        uses_gpu: the work can use a GPU (SAM); baselines and evaluation never ask for one.

    Raises:
        EngineError: the cluster cannot hold that many workers of that size.
    """
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if spec.gpus_per_worker is not None:
        per_gpu = float(spec.gpus_per_worker) if uses_gpu else 0.0
    else:
        per_gpu = 1.0 if uses_gpu and gpus >= 1 else 0.0
    if spec.workers is not None:
        workers = spec.workers
    elif per_gpu:
        workers = max(1, int(gpus // per_gpu))
    else:
        workers = max(1, int(cpus))
    workers = max(1, min(workers, n_batches))
    # a GPU worker needs one CPU to feed it; CPU workers share the cores (SAM's torch uses them all)
    per_cpu = 1.0 if per_gpu or not uses_gpu else max(1.0, float(int(cpus // workers)))
    if per_gpu * workers > gpus + 1e-9:
        raise EngineError(f"{_workers(workers)} × {per_gpu:g} GPU {_need(workers)} {per_gpu * workers:g} GPUs; the Ray "
                          f"cluster has {gpus:g} (lower --workers or --gpus-per-worker)")
    if per_cpu * workers > cpus + 1e-9:
        raise EngineError(f"{_workers(workers)} {_need(workers)} {per_cpu * workers:g} CPUs; the Ray cluster has {cpus:g} "
                          "(lower --workers)")
    return workers, per_cpu, per_gpu


class _Worker:
    """One Ray actor: builds its compute function once, then computes batches of ``(key, payload)``."""

    def __init__(self, factory: Callable, args: tuple):
        self.error = None
        try:
            self.compute = factory(*args)
        except SamisError as error:  # told to the driver by ready(): one line, not a dead actor
            self.error = error

    def ready(self):
        """None when the worker can work, else the error that stopped it."""
        return self.error

    def run(self, batch: list) -> list:
        return [(key, self.compute(payload)) for key, payload in batch]


def _death_errors(ray) -> tuple:
    exceptions = ray.exceptions
    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError",
             "ObjectLostError", "OwnerDiedError", "ObjectReconstructionFailedError")
    return tuple(getattr(exceptions, name) for name in names if hasattr(exceptions, name))


def _name_items(keys: Sequence) -> str:
    keys = [str(k) for k in keys]
    return ", ".join(keys[:10]) + (f", … ({len(keys)} in all)" if len(keys) > 10 else "")


def run_on_actors(spec: EngineSpec, task, items: Sequence[tuple[Any, Any]], *,
                  on_ready: Callable[[int, float, float], None] | None = None,
                  notify: Callable[[str], None] | None = None) -> Iterator[tuple[Any, Any]]:
    """``(key, result)`` for every ``(key, job)`` in ``items``, computed on Ray workers, in the order batches finish.

    Args:
        spec: the engine spec (address, workers, GPUs per worker).
        task: a :class:`samis.runner.Task`: ``task.worker(*task.worker_args)`` runs once in each worker and returns
            ``compute(payload) -> result`` (module-level objects: Ray sends them by name); ``task.load(job) ->
            payload`` runs in the driver just before the job is sent (reads the image); ``task.batch_size`` items
            go to a worker at once; with ``task.uses_gpu`` workers may hold GPUs (see :func:`worker_layout`).
        items: ``(key, job)``; keys name the items in errors (image ids).
        on_ready: called with (workers, CPUs, GPUs per worker) once every worker has started.
        notify: told in one line when a worker is lost and its items are sent again.

    Raises:
        EngineError: unreachable cluster, not enough resources, or items lost with their workers after
            the retries (named).
        SamisError: raised by the work itself (a worker's model cannot load, an image is refused).
    """
    items = list(items)
    if not items:
        return
    batches = [items[i:i + task.batch_size] for i in range(0, len(items), task.batch_size)]
    with ray_session(spec) as ray:
        deaths = _death_errors(ray)
        workers, per_cpu, per_gpu = worker_layout(ray, spec, len(batches), task.uses_gpu)
        remote, run = ray.remote(_Worker), next(_runs)
        options = dict(num_cpus=per_cpu, num_gpus=per_gpu, max_restarts=0, max_task_retries=0)
        actors = [remote.options(**options, name=WORKER_NAME.format(pid=os.getpid(), run=run, number=i + 1))
                  .remote(task.worker, task.worker_args) for i in range(workers)]
        try:
            try:
                problems = [p for p in ray.get([a.ready.remote() for a in actors]) if p is not None]
            except deaths as error:  # e.g. samis or its packages missing on a worker machine
                first = next((line.strip() for line in str(error).splitlines() if "Error" in line), error.__class__.__name__)
                raise EngineError(f"Ray workers could not start ({first[:200]}); every machine needs samis and "
                                  "requirements.txt installed") from None
            if problems:
                raise problems[0]
            if on_ready:
                on_ready(workers, per_cpu, per_gpu)
            yield from _dispatch(ray, deaths, actors, batches, task.load, notify or (lambda message: None))
        finally:
            for actor in actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)


def _dispatch(ray, deaths: tuple, actors: list, batches: list, load: Callable,
              notify: Callable[[str], None]) -> Iterator[tuple[Any, Any]]:
    queue = deque(range(len(batches)))
    attempts = [0] * len(batches)
    alive = dict(enumerate(actors))
    in_flight: dict = {}  # object ref -> (worker index, batch index)
    while queue or in_flight:
        busy = Counter(worker for worker, _ in in_flight.values())
        for worker in sorted(alive, key=busy.__getitem__):
            while queue and busy[worker] < QUEUE_PER_WORKER:
                index = queue.popleft()
                batch = [(key, load(job)) for key, job in batches[index]]
                in_flight[alive[worker].run.remote(batch)] = (worker, index)
                busy[worker] += 1
        if not in_flight:
            left = [key for index in queue for key, _ in batches[index]]
            raise EngineError(f"every Ray worker died ({len(actors)} started); {len(left)} item"
                              f"{'' if len(left) == 1 else 's'} not done: {_name_items(left)} (finished ones are "
                              "kept: run again to resume)")
        (ref,), _ = ray.wait(list(in_flight), num_returns=1)
        worker, index = in_flight.pop(ref)
        try:
            results = ray.get(ref)
        except deaths:
            if worker in alive:
                with contextlib.suppress(Exception):
                    ray.kill(alive.pop(worker), no_restart=True)
                notify(f"Ray worker {worker + 1} of {len(actors)} was lost; its unfinished items go to the "
                       f"{len(alive)} remaining")
            attempts[index] += 1
            if attempts[index] >= MAX_ATTEMPTS:
                keys = [key for key, _ in batches[index]]
                raise EngineError(f"Ray workers died {attempts[index]} times on {_name_items(keys)}; stopped "
                                  "(finished items are kept: run again to resume)") from None
            queue.appendleft(index)
            continue
        except ray.exceptions.RayTaskError as error:
            if isinstance(getattr(error, "cause", None), SamisError):
                raise error.cause from None
            raise
        yield from results


def cluster_summary(workers: int, per_cpu: float, per_gpu: float) -> str:
    """``2 Ray workers (1 CPU each)`` / ``8 Ray workers (0.5 GPU, 1 CPU each)``."""
    gpu = f"{per_gpu:g} GPU, " if per_gpu else ""
    return f"{workers} Ray worker{'s' if workers != 1 else ''} ({gpu}{per_cpu:g} CPU{'s' if per_cpu != 1 else ''} each)"
