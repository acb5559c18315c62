"""Damaged workspace files and interrupted writes: notice them, keep them aside, go on.

Everything samis keeps in the workspace besides the registry, the splits and the imported maps is
derived (results caches, the ground-truth index, SAM's mask cache) and can be computed again. When
such a file cannot be read, or reads but holds something else, it is renamed to
``<name>.damaged-<timestamp>`` beside itself (so nothing is lost and a person can look at it), one
warning line says so, and the caller recomputes it. A prediction manifest cannot be recomputed (it
records where imported maps came from); its warning says what is lost instead.

Warnings are :class:`samis.errors.SamisWarning` sent through :mod:`warnings`: the CLI prints each as
one ``warning: …`` line on stderr; other callers see Python's usual warning output or catch them.

Interrupted prediction imports (see :mod:`samis.store`) leave hidden folders beside the method
folders; :func:`recover_interrupted_imports` puts a retired method folder back when its replacement
never arrived and removes staging and retired folders whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings
from pathlib import Path

from samis.errors import SamisWarning

#: prefix of the folder an import writes its maps into before swapping it in
STAGING_PREFIX = ".import-"
#: prefix of the folder an import moves the previous maps to during the swap
RETIRED_PREFIX = ".retired-"

_RETIRED = re.compile(rf"^{re.escape(RETIRED_PREFIX)}(?P<method>.+)-(?P<pid>\d+)-(?P<ns>\d+)$")
_STAGING = re.compile(rf"^{re.escape(STAGING_PREFIX)}(?P<method>.+)-(?P<pid>\d+)-[^-]+$")
_PROCESS_STARTED = time.time()
_said: set[str] = set()


def warn(message: str) -> None:
    """Tell people about a repair or a skipped item in one line (a :class:`SamisWarning`)."""
    warnings.warn(message, SamisWarning, stacklevel=3)


def warn_once(key: str, message: str) -> None:
    """Like :func:`warn`, but only the first time ``key`` is seen in this process (pages rerun often)."""
    if key not in _said:
        _said.add(key)
        warn(message)


def move_aside(path: str | os.PathLike, reason: str, *, then: str) -> Path | None:
    """Rename a damaged file to ``<name>.damaged-<timestamp>`` beside it and say so in one warning.

    Args:
        path: the damaged file.
        reason: what is wrong with it, a few words.
        then: what the caller does next, as the warning's last words ("computed again" only where it
            is): a keyword every caller must give, so no warning promises a repair that does not happen.

    Returns:
        the new path, or None when the file had gone already (another process moved or replaced it).
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}-{os.getpid()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    warn(f"{path}: damaged ({reason}); moved aside to {aside.name}; {then}")
    return aside


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _abandoned(entry: os.DirEntry, pid: str | None) -> bool:
    """Whether the process that made a hidden folder is gone (by pid, else by age)."""
    if pid is not None:
        return not _process_alive(int(pid))
    try:
        return entry.stat(follow_symlinks=False).st_mtime < _PROCESS_STARTED
    except FileNotFoundError:
        return False


def recover_interrupted_imports(predictions_dir: Path) -> None:
    """Finish or undo prediction imports that were killed, in one dataset's predictions folder.

    - a retired method folder whose method folder is missing (killed between the two renames of the
      swap) is renamed back, so the method keeps its previous maps;
    - a retired folder whose method folder exists (killed after the swap) is removed;
    - a staging folder whose import process is gone is removed.

    Folders of imports still running (their process is alive) are left alone.
    """
    if not predictions_dir.is_dir():
        return
    try:
        entries = [e for e in os.scandir(predictions_dir) if e.name.startswith((RETIRED_PREFIX, STAGING_PREFIX))]
    except FileNotFoundError:
        return
    for entry in sorted(entries, key=lambda e: e.name):
        retired, staging = _RETIRED.match(entry.name), _STAGING.match(entry.name)
        if entry.name.startswith(RETIRED_PREFIX):
            if not _abandoned(entry, retired["pid"] if retired else None):
                continue
            method_dir = predictions_dir / retired["method"] if retired else None
            if method_dir is not None and not method_dir.exists():
                try:
                    os.replace(entry.path, method_dir)
                except OSError:
                    continue  # another process restored it first
                warn(f"{method_dir}: an import was interrupted; restored the previous maps")
            else:
                shutil.rmtree(entry.path, ignore_errors=True)
        elif _abandoned(entry, staging["pid"] if staging else None):
            shutil.rmtree(entry.path, ignore_errors=True)
