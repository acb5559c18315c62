"""samis.dashboard.jobs: background computations that outlive a page run."""

import threading

import pytest

from samis.dashboard.jobs import JobBoard
from samis.runs import RunProgress


def test_one_job_per_key_shared_and_kept():
    board = JobBoard(keep=2)
    started = []
    gate = threading.Event()

    def work(progress):
        started.append(1)
        progress(RunProgress(done=1, total=2, stage="evaluate"))
        gate.wait(5)
        return "result"

    first = board.get_or_start("a", work)
    again = board.get_or_start("a", work)  # a rerun, or another session, while it runs
    assert again is first
    gate.set()
    assert first.finished.wait(5)
    assert first.outcome() == "result" and first.latest.done == 1
    assert board.get_or_start("a", work) is first  # finished: kept, not redone
    assert started == [1]


def test_a_failed_job_reports_once_then_runs_again():
    board = JobBoard()
    calls = []

    def fails(progress):
        calls.append(1)
        raise ValueError("boom")

    job = board.get_or_start("k", fails)
    job.finished.wait(5)
    with pytest.raises(ValueError, match="boom"):
        board.get_or_start("k", fails).outcome()
    retry = board.get_or_start("k", fails)
    retry.finished.wait(5)
    assert retry is not job and len(calls) == 2


def test_only_the_most_recent_finished_results_are_kept():
    """keep=2: starting a job forgets the oldest finished ones until two jobs are left; a running job is
    never forgotten (so more than two are held only while more than two run)."""
    board = JobBoard(keep=2)
    for key in "abc":  # one at a time, each finished before the next starts
        assert board.get_or_start(key, lambda progress, key=key: key).finished.wait(5)
    assert list(board._jobs) == ["b", "c"]  # c's start forgot a
    assert board.get_or_start("d", lambda progress: "d").finished.wait(5)
    assert list(board._jobs) == ["c", "d"]
    assert board.get_or_start("c", lambda progress: "again").outcome() == "c"  # kept: not recomputed
    assert list(board._jobs) == ["d", "c"]  # and now the most recently used

    release = threading.Event()
    running = [board.get_or_start(k, lambda progress: release.wait(5)) for k in "xyz"]
    assert list(board._jobs) == ["x", "y", "z"]  # c and d forgotten, none of the three running ones
    release.set()
    for job in running:
        assert job.finished.wait(5)
    assert board.get_or_start("d", lambda progress: "new").finished.wait(5)
    assert list(board._jobs) == ["z", "d"] and board._jobs["d"].result == "new"


def test_a_waiting_page_says_how_long_a_job_has_read_until_it_counts_pairs():
    """Reading 1.8 million stored pairs counts nothing for minutes: the bar says so, not "0/0" full or empty."""
    import time

    from samis.dashboard.jobs import Job
    from samis.dashboard.ui import wait_text

    job = Job("k", started=time.monotonic() - 42)
    for latest in (None, RunProgress(done=0, total=0, unit="image-method pairs")):
        job.latest = latest
        fraction, text = wait_text(job, "histograms")
        assert fraction == 0.0 and text.startswith("histograms: reading what is stored")
        assert "running for 42 s" in text and "0/0" not in text
    job.latest = RunProgress(done=3, total=12, stage="pixel-level", unit="image-method pairs")
    fraction, text = wait_text(job, "histograms")
    assert fraction == 0.25 and text == "scoring histograms: 3/12 image-method pairs"
