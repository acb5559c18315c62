"""A library call run in a child process that SIGKILLs itself at its N-th ``os.replace`` (the kill point of the
resume tests): what a crash mid-write looks like to the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PREAMBLE = r"""
import os, signal, sys
calls = 0
real_replace = os.replace
def replace(*args, **kwargs):
    global calls
    calls += 1
    if calls == %d:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(*args, **kwargs)
os.replace = replace
"""


def run_killed(tmp_path: Path, code: str, *args: str, kill_at: int = 2) -> subprocess.CompletedProcess:
    """Run ``code`` (a script reading ``sys.argv[1:]`` = ``args``) in a child killed at its ``kill_at``-th
    ``os.replace``; returns the finished process (exit code -9 when the kill point was reached)."""
    driver = tmp_path / "driver.py"
    driver.write_text(_PREAMBLE % kill_at + code)
    return subprocess.run([sys.executable, str(driver), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
