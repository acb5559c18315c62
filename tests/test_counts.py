"""Every typed count has a declared range (samis.counts): the CLI, the dashboard and the library refuse a value
outside it with one line; the bootstrap draws its resamples in bounded chunks, whatever B is."""

from __future__ import annotations

import numpy as np
import pytest
from test_stats import fake_evaluation

import samis.stats as stats
from samis.cases import CaseQuery
from samis.cli import main
from samis.counts import COUNTS, CountError, check_count
from samis.engines import EngineSpec
from samis.errors import EngineError, SamisError, StatsError
from samis.stats import bootstrap, check_resamples, resample_chunks, resample_indices


@pytest.mark.parametrize("command, flag, bounds", [
    (["compare", "demo", "a", "b", "--b"], "--b", "[100, 100000]"),
    (["report", "demo", "--measured", "--ci"], "--ci", "[100, 100000]"),
    (["evaluate", "demo", "--workers"], "--workers", "[1, 1024]"),
    (["baseline", "demo", "ft", "--workers"], "--workers", "[1, 1024]"),
    (["speed", "--runs"], "--runs", "[1, 1000]"),
    (["speed", "--images"], "--images", "[1, 1000]"),
    (["speed", "--warmup"], "--warmup", "[0, 100]"),
])
def test_a_huge_count_is_one_line_naming_the_flag_and_its_range(tmp_path, capsys, command, flag, bounds):
    answers = []
    for typed in ("1000000000", "1e9"):
        assert main(["--workspace", str(tmp_path / "ws"), *command, typed]) == 2
        captured = capsys.readouterr()
        answers.append(captured.err)
        assert captured.out == ""
    assert answers[0] == answers[1]  # the literal 1e9 and 1000000000 get the same answer
    lines = answers[0].splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag} must lie in {bounds} (got 1000000000)"), lines
    assert not (tmp_path / "ws").exists()  # refused before anything was built


def test_counts_that_are_not_whole_numbers_are_refused():
    for value in ("abc", "1.5", "inf", "nan", True, 2.5):
        with pytest.raises(CountError, match="whole number"):
            check_count("workers", value, "--workers")
    assert check_count("workers", "8") == 8 and check_count("workers", 8.0) == 8 and check_count("resamples", "1e3") == 1000


def test_the_library_refuses_huge_counts_before_any_work():
    with pytest.raises(StatsError, match=r"must lie in \[100, 100000\] \(got 1000000000\)"):
        bootstrap(fake_evaluation(n=10), resamples=10**9)  # was a MemoryError (74.5 GiB)
    with pytest.raises(StatsError, match="--b must lie"):
        check_resamples("1e9", "--b")
    with pytest.raises(EngineError, match=r"--workers must lie in \[1, 1024\]"):
        EngineSpec("ray", workers=5000).checked()
    with pytest.raises(SamisError, match=r"worst N must lie in \[1, 10000\]"):
        CaseQuery("a", filter="worst", worst_n=10**9)


def test_the_dashboard_controls_take_their_ranges_from_the_declaration():
    from pathlib import Path

    pages = Path(__file__).resolve().parents[1] / "pages"
    for page, count in (("cases.py", "worst_n"), ("good_parts.py", "grid_images"), ("gallery.py", "gallery_rows"),
                        ("speed.py", "speed_runs")):
        assert f'"{count}"' in (pages / page).read_text(), page
    assert 'COUNTS["workers"]' in (pages / "run.py").read_text()
    assert COUNTS["workers"].high == 1024


def _one_big_draw(n, resamples, seed, strata):
    """resample_indices as it was before the chunking: one (B, n) draw per stratum."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(strata, dtype=object)
    groups = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()), key=str)]
    return np.concatenate([g[rng.integers(0, len(g), size=(resamples, len(g)))] for g in groups], axis=1)


def test_the_chunked_resamples_are_the_one_big_draw_bit_for_bit():
    strata = ["b", "a", "c", "a", "b", "a", "c"] * 5
    expected = _one_big_draw(len(strata), 1003, 7, strata)
    chunks = list(resample_chunks(len(strata), 1003, 7, strata, chunk_entries=len(strata) * 64))
    assert len(chunks) == 16 and max(len(c) for c in chunks) == 64
    assert np.array_equal(np.concatenate(chunks), expected)
    assert np.array_equal(resample_indices(len(strata), 1003, 7, strata), expected)


def test_the_bootstrap_never_holds_more_than_one_chunk_of_resamples(monkeypatch):
    evaluation = fake_evaluation(n=40)
    whole = bootstrap(evaluation, resamples=3000, seed=5)
    seen, blocks = [], []
    original_counts, original_blocks = stats.resample_counts, stats.count_blocks

    def watched(indices, n):
        seen.append(indices.size)
        return original_counts(indices, n)

    def watched_blocks(*args):
        for block in original_blocks(*args):
            blocks.append(block.size)
            yield block

    monkeypatch.setattr(stats, "resample_counts", watched)
    monkeypatch.setattr(stats, "count_blocks", watched_blocks)
    monkeypatch.setattr(stats, "CHUNK_ENTRIES", 40 * 100)
    monkeypatch.setattr(stats.resample_chunks, "__defaults__", (None, 40 * 100))
    chunked = bootstrap(evaluation, resamples=3000, seed=5)
    assert len(seen) == 30 and max(seen) <= 40 * 100  # 30 blocks of 100 resamples, never 3000 × 40 at once
    # the same counts (one block of 3000 × 40 small ints), so the same products
    np.testing.assert_allclose(chunked.samples, whole.samples, rtol=0, atol=1e-12)
    # counts held at most COUNT_ENTRIES at a time: 6 blocks of 500 resamples, each method's curves read 6 times
    seen.clear(), blocks.clear()
    monkeypatch.setattr(stats, "COUNT_ENTRIES", 40 * 500)
    bounded = bootstrap(evaluation, resamples=3000, seed=5)
    assert blocks == [40 * 500] * 6 and len(seen) == 30
    np.testing.assert_allclose(bounded.samples, whole.samples, rtol=0, atol=1e-12)


@pytest.mark.parametrize("flag, expected", [
    ("--points-per-side", "error: points_per_side must lie in [1, 128] (--points-per-side), got 1000000000"),
    ("--points-per-batch", "error: points_per_batch must lie in [1, 4096] (--points-per-batch), got 1000000000"),
])
def test_generator_counts_keep_their_declaration_and_answer_1e9_as_1000000000(tmp_path, capsys, flag, expected):
    for typed in ("1000000000", "1e9"):
        assert main(["--workspace", str(tmp_path / "ws"), "sam", "demo", flag, typed]) == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [expected] and captured.out == ""
    assert not (tmp_path / "ws").exists()  # refused before the demo was built


def test_the_masks_panel_is_a_declared_count(tmp_path, capsys):
    assert main(["--workspace", str(tmp_path / "ws"), "masks", "demo", "img", "--panel", "1e9"]) == 2
    assert capsys.readouterr().err.startswith("error: --panel must lie in [16, 4096] (got 1000000000)")


def test_the_speed_report_checks_its_counts_before_timing_anything():
    from samis.speed import TimingProtocol, speed_report

    with pytest.raises(CountError, match=r"--runs must lie in \[1, 1000\] \(got 1000000000\)"):
        speed_report(None, methods=["ft"], protocol=TimingProtocol(runs=10**9))
    with pytest.raises(CountError, match=r"--warmup must be at least 0"):
        speed_report(None, methods=["ft"], protocol=TimingProtocol(warmup=-1))
