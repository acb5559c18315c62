"""Where work runs: ``local`` (this process, or a process pool on this machine) or ``ray`` (actors on a
Ray cluster, or on a Ray started here) — with the same results, byte for byte.

The driver (the process running samis) always does every read and every write: it reads the images
and maps, sends them to the workers, and writes what comes back with the same atomic writes as a local
run. Workers therefore need neither the driver's disk nor the workspace; only SAM checkpoints must be
at the same path on each machine.

This module imports neither ray nor torch: the CLI parses ``--engine`` without paying for them. The
Ray code is in :mod:`samis.engines.ray_engine`, imported only when a run uses it.
"""

from __future__ import annotations

import contextlib

from samis.engines.spec import CONNECT_TIMEOUT_S, ENGINES, EngineSpec, check_reachable

__all__ = ["CONNECT_TIMEOUT_S", "ENGINES", "EngineSpec", "check_reachable", "engine_session"]


@contextlib.contextmanager
def engine_session(spec: EngineSpec):
    """Keep the engine up across several runs (``baseline … all`` on Ray starts Ray and connects once, not
    once per baseline); nothing to do for the local engine.

    Raises:
        EngineError: as :func:`samis.engines.ray_engine.ray_session`.
    """
    if spec.is_local:
        yield
        return
    from samis.engines.ray_engine import ray_session  # ray: only when a run asks for it

    with ray_session(spec):
        yield
