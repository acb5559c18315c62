"""Loaded models with an explicit lifetime: a :class:`ModelCache` holds them, bounded by their bytes.

A loaded ViT-H takes about 2.5 GB. A long-lived server (the dashboard) must not keep every model it
ever loaded, and a model a run is using must not vanish under it, so:

* the cache is bounded by the parameter bytes of the models it holds (default 4 GiB);
* when a new model pushes it over the bound, the least recently used models go first;
* a model in use is never evicted: a lease (``with cache.lease(key, build) as model:``) pins it, and
  ``with cache.using():`` pins every model that :func:`samis.sam.engine.load_sam` takes from this
  cache in the block (that is how a CLI run and a dashboard rerun hold theirs). Leased models may
  push the total over the bound for as long as they are leased; the cache shrinks back when they are
  released (a single model larger than the bound is therefore kept only while leased);
* every method is thread-safe (dashboard sessions run in threads); two threads asking for the same
  model load it once.

The dashboard holds one cache with ``st.cache_resource``; the CLI creates one per run.
This module imports no torch: sizes come from the held objects (``nbytes``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

#: the default bound: 4 GiB of parameters (ViT-H and a smaller model, or SAM 2.1 Hiera-L several times)
DEFAULT_MAX_BYTES = 4 << 30

_ACTIVE: contextvars.ContextVar[tuple[ModelCache, set] | None] = contextvars.ContextVar("samis_model_cache",
                                                                                      default=None)


@dataclass
class _Entry:
    value: object
    nbytes: int
    leases: int = 0


def _nbytes(value) -> int:
    return int(getattr(value, "nbytes", 0))


class ModelCache:
    """Loaded models by key, least recently used evicted first, bounded by bytes, leased ones kept.

    Args:
        max_bytes: the bound on the bytes of the models held while none is leased.
        size_of: the bytes of a held object (default: its ``nbytes`` attribute).
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, size_of: Callable[[object], int] = _nbytes):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be 0 or more, got {max_bytes}")
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    # -- what is held --------------------------------------------------------------------------------------
    def keys(self) -> list:
        """Keys held, least recently used first."""
        with self._lock:
            return list(self._entries)

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    # -- leases -------------------------------------------------------------------------------------------
    def acquire(self, key: Hashable, build: Callable[[], object]):
        """The object of ``key``, built with ``build()`` if not held, leased until :meth:`release`.

        Raises:
            whatever ``build`` raises (nothing is held then).
        """
        with self._lock:
            entry = self._take(key)
            if entry is not None:
                return entry.value
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one build per key; other keys load meanwhile
            with self._lock:
                entry = self._take(key)
                if entry is not None:
                    return entry.value
            try:
                value = build()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._entries[key] = _Entry(value, self._size_of(value), leases=1)
                self._trim()
            return value

    def release(self, key: Hashable) -> None:
        """End one lease of ``key``; the cache shrinks back to its bound if it must."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.leases > 0:
                entry.leases -= 1
            self._trim()

    @contextlib.contextmanager
    def lease(self, key: Hashable, build: Callable[[], object]) -> Iterator[object]:
        """``with cache.lease(key, build) as model:`` — the model, never evicted inside the block."""
        value = self.acquire(key, build)
        try:
            yield value
        finally:
            self.release(key)

    @contextlib.contextmanager
    def using(self) -> Iterator[ModelCache]:
        """Make this the cache that :func:`samis.sam.engine.load_sam` loads into, in this thread's context;
        every model taken from it inside the block stays leased until the block ends."""
        leased: set = set()
        token = _ACTIVE.set((self, leased))
        try:
            yield self
        finally:
            _ACTIVE.reset(token)
            # every lease ends first, then the cache shrinks once, least recently used first (releasing one by
            # one in set order would evict whichever happened to be released first)
            with self._lock:
                for key in leased:
                    entry = self._entries.get(key)
                    if entry is not None and entry.leases > 0:
                        entry.leases -= 1
                self._trim()

    def clear(self) -> None:
        """Drop every model not leased."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.leases == 0]:
                del self._entries[key]

    # -- inside the lock ----------------------------------------------------------------------------------
    def _take(self, key):
        entry = self._entries.get(key)
        if entry is not None:
            entry.leases += 1
            self._entries.move_to_end(key)
        return entry

    def _trim(self) -> None:
        total = sum(entry.nbytes for entry in self._entries.values())
        for key in list(self._entries):  # least recently used first
            if total <= self.max_bytes:
                return
            entry = self._entries[key]
            if entry.leases == 0:
                total -= entry.nbytes
                del self._entries[key]


def take_from_active_cache(key: Hashable, build: Callable[[], object]):
    """The object of ``key`` from the cache made active with :meth:`ModelCache.using` (leased until that block
    ends; a key taken twice in one block is leased once); built afresh, not cached, when none is active."""
    active = _ACTIVE.get()
    if active is None:
        return build()
    cache, leased = active
    value = cache.acquire(key, build)
    if key in leased:
        cache.release(key)  # one lease per block and key
    else:
        leased.add(key)
    return value


def active_cache() -> ModelCache | None:
    """The cache :meth:`ModelCache.using` made active here, or None."""
    active = _ACTIVE.get()
    return active[0] if active else None
