"""A library call run in a child process that SIGKILLs itself at its N-th ``os.replace`` (the kill point of the
resume and fault-injection tests): what a crash mid-write looks like to the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: patches os.replace (and shutil.rmtree) before the code runs; ``calls`` counts this process's own replaces
_PREAMBLE = r"""
import os, shutil, signal, sys
calls = 0
real_replace, real_rmtree = os.replace, shutil.rmtree
main_pid = os.getpid()
def replace(*args, **kwargs):
    global calls
    if os.getpid() != main_pid:  # pool workers (baseline maps) write on their own; count the command's writes
        return real_replace(*args, **kwargs)
    calls += 1
    if calls == %(kill_at)d:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(*args, **kwargs)
def rmtree(path, *args, **kwargs):
    if %(rmtree_mark)r is not None and %(rmtree_mark)r in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rmtree(path, *args, **kwargs)
os.replace, shutil.rmtree = replace, rmtree
"""


def run_killed(tmp_path: Path, code: str, *args: str, kill_at: int = 2,
               kill_at_rmtree_of: str | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` (a script reading ``sys.argv[1:]`` = ``args``) in a child killed at its ``kill_at``-th
    ``os.replace`` (0: never; replaces in processes it forks are not counted) or, with ``kill_at_rmtree_of``,
    when it starts removing a folder whose path contains that text. The script can read ``calls``, the
    number of ``os.replace`` calls made so far. Returns the finished process (exit code -9 when killed)."""
    driver = tmp_path / "driver.py"
    driver.write_text(_PREAMBLE % {"kill_at": kill_at, "rmtree_mark": kill_at_rmtree_of} + code)
    return subprocess.run([sys.executable, str(driver), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
