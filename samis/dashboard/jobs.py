"""Long computations that outlive a page run: started once per key, shared by every session.

Scoring a split the first time can take a minute. Done inside a page run, it would be lost when the
visitor changes a widget or the page (Streamlit stops the run) and redone by the next run. A
:class:`JobBoard` runs such work in a background thread instead: the page only watches it (a progress
bar with images done, total and ETA, see :func:`samis.dashboard.ui.wait_for`), a rerun or another
session finds the same job, and the finished result is kept for later runs (the last ``keep`` ones).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from samis.runs import ProgressCallback, RunProgress


@dataclass
class Job:
    """One computation: its latest progress event, then its result or its error."""

    key: Hashable
    size: int | None = None  # the items it was started for, when its starter counted them
    latest: RunProgress | None = None
    result: Any = None
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)  # when it was started (time.monotonic)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def outcome(self) -> Any:
        """The result (raises the job's error instead when it failed)."""
        if self.error is not None:
            raise self.error
        return self.result


class JobBoard:
    """Jobs by key: one thread per key at a time, finished results kept (the ``keep`` most recent)."""

    def __init__(self, keep: int = 6):
        self.keep = keep
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_start(self, key: Hashable, work: Callable[[ProgressCallback], Any], size: int | None = None) -> Job:
        """The job of ``key``: the running or finished one, else a new one running ``work(progress)`` (``size``:
        the items it is started for, when known).

        A failed job is handed out once (so its page can show the error) and then forgotten, so the
        next request tries again.
        """
        with self._lock:
            job = self._found(key)
            if job is not None:
                return job
            job = self._jobs[key] = Job(key, size)
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), name=f"samis-job-{len(self._jobs)}", daemon=True).start()
        return job

    def find(self, key: Hashable) -> Job | None:
        """The running or finished job of ``key`` without starting one (a failed job is handed out once, as by
        :meth:`get_or_start`)."""
        with self._lock:
            return self._found(key)

    def _found(self, key: Hashable) -> Job | None:
        job = self._jobs.get(key)
        if job is not None:
            self._jobs.move_to_end(key)
            if job.done and job.error is not None:
                del self._jobs[key]
        return job

    def _run(self, job: Job, work: Callable[[ProgressCallback], Any]) -> None:
        def progress(event: RunProgress) -> None:
            job.latest = event

        try:
            job.result = work(progress)
        except BaseException as error:  # noqa: BLE001 - handed to the page that waits for it
            job.error = error
        finally:
            job.finished.set()

    def _forget_old(self) -> None:
        finished = [key for key, job in self._jobs.items() if job.done]
        while len(self._jobs) > self.keep and finished:
            del self._jobs[finished.pop(0)]
