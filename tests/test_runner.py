"""The runner (samis.runner) with a toy task that is only a task (tests/toy_task.py): local, in a pool,
killed and resumed, on a damaged cache; on Ray in tests/test_ray_engine.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import toy_task
from samis.imageio import read_gray
from samis.result_cache import read_envelope
from samis.runner import run_task

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def images(tmp_path) -> list[Path]:
    rng = np.random.default_rng(3)
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for i in range(12):
        path = folder / f"im_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (16 + i, 20), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _expected(paths: list[Path], scale: float = 1.0) -> dict[str, list[float]]:
    return {p.stem: [read_gray(p).mean() * scale, read_gray(p).max() * scale] for p in paths}


def _stored(folder: Path) -> dict[str, list[float]]:
    return {p.stem: read_envelope(p)[1].tolist() for p in sorted(folder.glob("*.npz"))}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_toy_task_runs_here_and_in_a_pool_and_resumes(images, tmp_path, workers):
    folder = tmp_path / "cache"
    events = []
    outcome = run_task(toy_task.task(parallel_min=1), toy_task.units(images), toy_task.store(folder), workers=workers,
                       progress=events.append)
    assert [u.id for u in outcome.computed] == [p.stem for p in images] and outcome.cached == []
    stored = _stored(folder)
    expected = _expected(images)
    assert stored.keys() == expected.keys()
    for stem in expected:
        np.testing.assert_allclose(stored[stem], expected[stem], rtol=1e-12)
    assert [e.done for e in events] == list(range(13)) and events[-1].total == 12
    # a second run finds everything; another scale is another content key: everything again
    again = run_task(toy_task.task(), toy_task.units(images), toy_task.store(folder))
    assert again.computed == [] and len(again.cached) == 12
    other = run_task(toy_task.task(2.0), toy_task.units(images, 2.0), toy_task.store(folder))
    assert len(other.computed) == 12
    np.testing.assert_allclose(_stored(folder)["im_03"], np.array(expected["im_03"]) * 2, rtol=1e-12)


def test_a_damaged_result_is_moved_aside_and_computed_again(images, tmp_path):
    folder = tmp_path / "cache"
    run_task(toy_task.task(), toy_task.units(images), toy_task.store(folder))
    (folder / "im_05.npz").write_bytes(b"not a zip file at all")
    (folder / "im_07.npz").write_bytes((folder / "im_07.npz").read_bytes()[:40])  # cut short
    with pytest.warns(Warning, match="moved aside"):
        outcome = run_task(toy_task.task(), toy_task.units(images), toy_task.store(folder))
    assert [u.id for u in outcome.computed] == ["im_05", "im_07"] and len(outcome.cached) == 10
    assert sorted(p.name.split(".damaged-")[0] for p in folder.glob("*.damaged-*")) == ["im_05.npz", "im_07.npz"]
    np.testing.assert_allclose(_stored(folder)["im_05"], _expected(images)["im_05"], rtol=1e-12)


# The toy task in a fresh interpreter that SIGKILLs itself right after its Nth result file is in place,
# first writing the process ids of its pool (the fault comes from patching os.replace in the driver).
DRIVER = r"""
import multiprocessing, os, signal, sys
from pathlib import Path
kill_at, pids_file, folder, workers = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
paths = [Path(p) for p in sys.argv[5:]]
real_replace, calls = os.replace, [0]

def replace(*args, **kwargs):
    real_replace(*args, **kwargs)
    calls[0] += 1
    if calls[0] == kill_at:
        Path(pids_file).write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()))
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
import toy_task
from samis.runner import run_task
run_task(toy_task.task(parallel_min=1), toy_task.units(paths), toy_task.store(Path(folder)), workers=workers)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # ended, waiting for a parent to collect it


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_run_resumes_after_its_last_whole_file_and_leaves_no_process(images, tmp_path, workers):
    folder, pids = tmp_path / "cache", tmp_path / "pids.txt"
    done = subprocess.run([sys.executable, "-c", DRIVER, "5", str(pids), str(folder), str(workers),
                           *map(str, images)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])})
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(list(folder.glob("*.npz"))) == 5 and not list(folder.glob(".*.tmp"))
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == (2 if workers == 2 else 0)
    deadline = time.monotonic() + 10
    while not all(map(_gone, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(map(_gone, children)), "pool processes outlived their SIGKILLed driver"
    outcome = run_task(toy_task.task(), toy_task.units(images), toy_task.store(folder))
    assert len(outcome.cached) == 5 and len(outcome.computed) == 7
    stored, expected = _stored(folder), _expected(images)
    for stem in expected:
        np.testing.assert_allclose(stored[stem], expected[stem], rtol=1e-12)


def test_a_store_slow_to_flush_is_flushed_less_often(monkeypatch):
    """Flushes come every flush_every_s seconds of work, but never take more than a quarter of the run: after a
    flush that took 10 s (a large file rewritten whole), the next one waits 30 s. A fake clock: no sleep."""
    import samis.runner as runner
    from samis.runner import Task, Unit, UnitStore

    clock = [0.0]
    monkeypatch.setattr(runner.time, "perf_counter", lambda: clock[0])
    flushed_at = []

    class SlowStore(UnitStore):
        def put(self, unit, result):
            clock[0] += 1.0  # one second of work per unit

        def flush(self):
            flushed_at.append(clock[0])
            clock[0] += 10.0  # writing takes ten seconds

    task = Task("toy", lambda job: job, lambda: (lambda payload: payload), parallel_min=10**6)
    run_task(task, [Unit(f"u{i}", job=i) for i in range(60)], SlowStore(), flush_every_s=2.0)
    # the first after 2 units (t=2); it took 10 s, so the next waits 30 s of work (t=12+30=42, 32 units done);
    # the 28 units left end at t=52+28=80, before the next would be due: the last flush is the one at the end
    assert flushed_at == [2.0, 42.0, 80.0]
