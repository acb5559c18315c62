"""What an engine is (:class:`EngineSpec`) and whether a Ray address answers, before any work: imports neither
ray nor torch, so the CLI parses ``--engine`` without paying for them."""


from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from samis.counts import CountError, check_count
from samis.errors import EngineError

ENGINES = ("local", "ray")

#: seconds to wait for a TCP connection to a Ray address before saying it is unreachable
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class EngineSpec:
    """Where a run's work goes.

    Attributes:
        name: ``local`` (today's behaviour) or ``ray``.
        address: a running Ray cluster (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``); None starts a
            local Ray on this machine for the run and stops it afterwards.
        workers: Ray workers (actors); None = one per GPU, or one per CPU where there is no GPU.
        gpus_per_worker: GPUs each SAM worker holds (fractions share a GPU); None = 1 where the cluster
            has GPUs, else 0.
    """

    name: str = "local"
    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def checked(self) -> "EngineSpec":
        """This spec after checking its values, and that a Ray address answers (within a few seconds).

        Raises:
            EngineError: unknown engine, Ray options with the local engine, a bad count, an unreachable address.
        """
        if self.name not in ENGINES:
            raise EngineError(f"unknown engine {self.name!r}; choose {' or '.join(ENGINES)}")
        if self.is_local and self.address:
            raise EngineError(f"--ray-address {self.address} needs --engine ray")
        if self.is_local and self.gpus_per_worker is not None:
            raise EngineError("--gpus-per-worker needs --engine ray")
        if self.workers is not None:
            try:
                check_count("workers", self.workers, "--workers")
            except CountError as error:
                raise EngineError(str(error)) from None
        if self.gpus_per_worker is not None and not 0 <= self.gpus_per_worker <= 64:
            raise EngineError(f"--gpus-per-worker must be between 0 and 64 (got {self.gpus_per_worker})")
        if self.address:
            check_reachable(self.address)
        return self

    def describe(self) -> str:
        if self.is_local:
            return "local"
        return f"ray ({self.address or 'local Ray started for this run'})"


def _host_port(address: str) -> tuple[str, int]:
    text = address.strip()
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme != "ray":
            raise EngineError(f"Ray address {address!r}: use HOST:PORT, ray://HOST:PORT or auto")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EngineError(f"Ray address {address!r} has no port; use HOST:PORT (ray start --head prints it, e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


#: what an HTTP/2 client sends first (RFC 9113 §3.4): the preface and an empty SETTINGS frame
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS_FRAME = 4


def _first_answer(sock: socket.socket, timeout_s: float) -> bytes:
    """The first bytes a server sends back to an HTTP/2 preface (b"" when it closes or stays silent)."""
    sock.settimeout(timeout_s)
    try:
        sock.sendall(_HTTP2_PREFACE)
        answer = b""
        while len(answer) < 9:
            chunk = sock.recv(9 - len(answer))
            if not chunk:
                break
            answer += chunk
        return answer
    except OSError:  # reset or timed out: no HTTP/2 server there
        return b""


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a Ray address that does not accept a TCP connection, or does not speak gRPC (HTTP/2) as a
    Ray cluster's address does, within ``timeout_s`` each (``auto`` is left to Ray).

    Ray itself keeps retrying an unreachable address or a wrong port for minutes; this answers in
    seconds, and names the usual mistake (the Ray dashboard's web port instead of the cluster's).
    Clusters with Ray's TLS on (``RAY_USE_TLS``) get the TCP check only.

    Raises:
        EngineError: the address is malformed, nothing answers there, or what answers is not gRPC.
    """
    if address.strip() == "auto":
        return
    host, port = _host_port(address)
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        raise EngineError(f"cannot reach a Ray cluster at {address} ({reason}); start one with `ray start --head` "
                          "or check the address and port") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true", "yes"):
            return
        answer = _first_answer(sock, timeout_s)
    if answer.startswith((b"HTTP/", b"<")):  # a status line, or a bare HTML page (HTTP/0.9 style)
        raise EngineError(f"{address} is a web server, not a Ray cluster (port 8265 is Ray's dashboard); use the "
                          "address `ray start --head` printed (port 6379 by default)")
    if len(answer) < 9 or answer[3] != _SETTINGS_FRAME:
        raise EngineError(f"{address} answers but is not a Ray cluster (no gRPC there); use the address "
                          "`ray start --head` printed (port 6379 by default)")


