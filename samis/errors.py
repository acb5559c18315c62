"""Errors meant for people: each carries one line that says what went wrong and where.

The CLI prints ``str(error)`` and exits with code 2; the dashboard shows it with ``st.error``.
Anything that is not a :class:`SamisError` is a bug and keeps its traceback.
"""


class SamisError(Exception):
    """Base class of every error caused by user input (bad path, bad file, bad option)."""


class WorkspaceError(SamisError):
    """The workspace folder or its registry cannot be used."""


class DatasetError(SamisError):
    """A dataset folder is missing, has the wrong layout, or holds a broken file."""


class StoreError(SamisError):
    """Predictions cannot be imported, read or written."""


class EvaluationError(SamisError):
    """A method cannot be scored on the requested split."""


class MetricError(EvaluationError):
    """An image cannot be scored (smaller than the metrics' definitions allow) or a score left its range."""


class ReportError(SamisError):
    """A table or report cannot be built from the given rows."""


class StatsError(SamisError):
    """An interval or a test cannot be computed from the given input (too few images, bad B or seed)."""


class SamError(SamisError):
    """A SAM checkpoint, model or run cannot be used."""


class CheckpointError(SamError):
    """A checkpoint cannot be downloaded, checked or identified (unknown model, unreachable URL, mismatch)."""


class SamisWarning(UserWarning):
    """Something was repaired or skipped and people should know (one line, like the errors)."""


class EngineError(SamisError):
    """Work cannot be run where it was asked to run (unreachable Ray cluster, workers lost, bad worker counts)."""
