"""The run skeleton: progress events, the tracker's rate and ETA, reports, the CLI printer, strategy registries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from samis.commands._common import progress_printer
from samis.datasets import register_dataset
from samis.runs import ProgressTracker, Report, RunProgress, format_duration, jsonable, staged


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _assert_monotone_to_total(events: list[RunProgress]) -> None:
    assert events, "no progress event at all"
    done = [e.done for e in events]
    assert done == sorted(done), done
    assert all(e.total == events[0].total for e in events)
    assert done[-1] == events[-1].total


# ---- the tracker ------------------------------------------------------------------------------------------------
def test_rate_and_eta_count_only_this_runs_work_not_resumed_items():
    clock, events = FakeClock(), []
    tracker = ProgressTracker(events.append, total=10, stage="ft", done=4, clock=clock).start()
    first = events[0]
    assert (first.done, first.total, first.stage) == (4, 10, "ft")
    assert first.rate is None and first.eta_s is None  # nothing done by this run yet
    for _ in range(3):
        clock.now += 2.0
        tracker.advance()
    last = events[-1]
    assert last.done == 7
    # 3 images in 6 s: 0.5 images/s (counting the 4 resumed ones would claim 7/6 ≈ 1.17/s)
    assert last.rate == pytest.approx(0.5)
    assert last.eta_s == pytest.approx(3 / 0.5)
    for _ in range(3):
        clock.now += 1.0
        tracker.advance()
    _assert_monotone_to_total(events)
    assert events[-1].eta_s == 0.0 and events[-1].rate == pytest.approx(6 / 9)


def test_restart_clock_leaves_setup_time_out_of_the_rate():
    clock, events = FakeClock(), []
    tracker = ProgressTracker(events.append, total=2, clock=clock).start()
    clock.now += 50.0  # loading a model
    tracker.restart_clock()
    clock.now += 1.0
    tracker.advance()
    assert events[-1].rate == pytest.approx(1.0) and events[-1].eta_s == pytest.approx(1.0)


def test_tracker_without_callback_counts_and_refuses_to_go_back():
    tracker = ProgressTracker(None, total=3)
    tracker.start()
    tracker.advance(2)
    assert tracker.done == 2 and tracker.worked == 2
    with pytest.raises(ValueError, match="backwards"):
        tracker.advance(-1)
    assert tracker.done == 2


def test_working_on_names_the_item_without_advancing_and_staged_relabels():
    events = []
    tracker = ProgressTracker(staged(events.append, "baseline ft"), total=2, stage="ft", unit="methods").start()
    tracker.working_on("timing ft")
    tracker.advance()
    assert [(e.stage, e.done, e.detail) for e in events] == [("baseline ft", 0, ""), ("baseline ft", 0, "timing ft"),
                                                              ("baseline ft", 1, "")]
    assert staged(None, "x") is None


def test_event_text_and_fraction():
    event = RunProgress(3, 12, "ft", eta_s=125.0, rate=2.5)
    assert event.text() == "ft: 3/12 images · 2.5/s · about 2 min 05 s left"
    assert event.fraction == 0.25
    assert RunProgress(0, 0).fraction == 1.0 and RunProgress(0, 0).text() == "0/0 images"
    assert format_duration(7260) == "2 h 01 min"


# ---- library loops send the protocol -----------------------------------------------------------------------------
@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=6, shape=(40, 50))
    return register_dataset(workspace, "toy", root, "folder"), predictions


def test_baseline_run_resumes_without_counting_stored_maps(workspace, toy):
    from samis.baselines.run import compute_baseline

    dataset, _ = toy
    compute_baseline(workspace, dataset, "otsu", workers=1)
    for path in sorted(workspace.method_dir("toy", "otsu").glob("*.png"))[:2]:
        path.unlink()
    events = []
    run = compute_baseline(workspace, dataset, "otsu", progress=events.append, workers=1)
    assert (run.computed, run.skipped) == (2, 4)
    assert events[0].done == 4 and events[0].rate is None and events[0].eta_s is None
    assert {e.stage for e in events} == {"otsu"}
    assert [e.done for e in events] == [4, 5, 6]
    _assert_monotone_to_total(events)


def test_import_counts_unreadable_files_so_it_ends_at_total(workspace, toy, tmp_path):
    from samis.store import import_predictions

    dataset, predictions = toy
    folder = tmp_path / "maps"
    folder.mkdir()
    for path in sorted(predictions["good"].iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "img_002.png").write_bytes(b"not a png")
    events = []
    report = import_predictions(workspace, dataset, "copied", folder, skip_unreadable=True, progress=events.append)
    assert report.matched == 5 and len(report.unreadable) == 1
    assert events[0].done == 0 and events[-1].done == events[-1].total == 6
    assert {e.stage for e in events} == {"import copied"}
    _assert_monotone_to_total(events)


def test_evaluation_counts_image_method_pairs(workspace, toy):
    from samis.evaluation import evaluate
    from samis.store import import_predictions

    dataset, predictions = toy
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    events = []
    result = evaluate(workspace, dataset, ["good", "weak"], workers=1, progress=events.append)
    assert result.computed == 12
    assert {(e.stage, e.unit) for e in events} == {("evaluate", "image-method pairs")}
    _assert_monotone_to_total(events)
    again = []
    evaluate(workspace, dataset, ["good", "weak"], workers=1, progress=again.append)
    assert [(e.done, e.total) for e in again] == [(0, 0)]  # all from the cache: nothing to do


# ---- reports -----------------------------------------------------------------------------------------------------
def _reports(workspace, toy) -> list[Report]:
    """One real instance of every report class."""
    from samis.baselines.run import compute_baseline
    from samis.checkpoint_download import DownloadReport, VerifyReport
    from samis.demo import DemoReport
    from samis.evaluation import evaluate
    from samis.image_level import ImageLevelMethod, ImageLevelResult
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level
    from samis.prompts.box_run import BoxReport
    from samis.prompts.click_results import ClickResult, ImageClicks
    from samis.results_export import export_results
    from samis.sam.prompts import PromptReport
    from samis.sam.run import RunReport
    from samis.sam.sam3_run import Sam3Report
    from samis.sam.select_run import SelectionReport
    from samis.sam3_download import Sam3DownloadReport
    from samis.store import import_predictions

    dataset, predictions = toy
    imported = import_predictions(workspace, dataset, "good", predictions["good"])
    baseline = compute_baseline(workspace, dataset, "otsu", workers=1)
    evaluation = evaluate(workspace, dataset, ["good", "otsu"], workers=1)
    pixel_level = evaluate_pixel_level(workspace, dataset, ["good"], "all", PixelLevelOptions(calibration_split="all"),
                                       workers=1)
    exported = export_results(workspace, dataset, workspace.root / "rows.csv", "csv", ["good", "otsu"])
    from samis.evaluation_summary import summarized

    return [
        imported, baseline, evaluation, summarized(evaluation), pixel_level, exported,
        RunReport("toy", "sam-tiny-random", "all", 6, computed=["a", "b"], skipped=["c"], seconds=0.5,
                  cache_dir=Path("/tmp/cache")),
        SelectionReport("sam-tiny-random+contrast", "contrast", 6, False,
                        {"ring": 2, "max_area_fraction": np.float64(0.3), "grid": [{"ring": 2}]}, np.float64(0.41), 1.5),
        SelectionReport("sam-tiny-random+oracle", "oracle", 6, True, mean_iou=float("nan"), oracle_exact=6),
        PromptReport("sam-tiny-random+box", 6, 2.0),
        ClickResult("toy", "all", "sam-tiny-random", 3, True,
                    [ImageClicks("a", "scratch", [[4, 5, 1], [2, 2, 0]], [0.5, 0.9])], skipped=["b"],
                    random_weights=True, computed=1),
        BoxReport("sam-tiny-random+box:from=otsu", 6, 4, 2, False, empty=["c"], seconds=1.0),
        DownloadReport("vit_b", Path("/tmp/ck/sam_vit_b_01ec64.pth"), "http://mirror/sam_vit_b_01ec64.pth", 375_042_383,
                       "01ec64" + "0" * 26, 1000, 374_041_383, 12.5, False, "size and MD5 (01ec64…) match the official file"),
        VerifyReport(Path("/tmp/mine.pt"), 1234, "0" * 32, "hiera_t", None, "not an official file name"),
        DemoReport(Path("/tmp/demo"), 60, 1.0, {"ft": 0.5}, 2.0, 3.5,
                   {"ft": {"Sa": np.float64(0.5), "MAE": 0.1, "maxEm": 0.7, "Fw": 0.3, "maxFm": 0.4}}),
        ImageLevelResult("toy", "all", None, {"good": ImageLevelMethod(
            "good", ["a", "b", "c"], np.array([0.0, 0.2, 0.0]), np.array([0.1, 1.0, 0.5]), np.array([0, 1, 0]),
            np.array([True, False, False]), ["free", "scratch", "patch"])},
            {"a": "free", "b": "scratch", "c": "patch"}, ["a"], computed=3, notes=["a note"]),
        Sam3Report("toy", "sam3-tiny-random+text-1a2b3c4d", "all", 6, computed=["a"], cached=["b"], seconds=1.0,
                   instances=12, cache_dir=Path("/tmp/cache")),
        Sam3DownloadReport("sam3", Path("/tmp/ck/sam3.pt"), "facebook/sam3/sam3.pt", 3_440_220_896, 60.0),
    ]


def test_every_report_has_one_line_summary_and_a_json_dict(workspace, toy):
    import samis.baselines.run  # noqa: F401 - every module defining a report is imported by _reports
    import samis.pixel_level  # noqa: F401
    import samis.prompts.box_run  # noqa: F401
    import samis.prompts.click_results  # noqa: F401
    import samis.results_export  # noqa: F401
    reports = _reports(workspace, toy)
    assert {type(r) for r in reports} == set(_all_subclasses(Report)), "a report class without a test instance"
    for report in reports:
        summary = report.summary()
        assert isinstance(summary, str) and summary and "\n" not in summary, type(report)
        assert report.describe().splitlines()[0] == summary
        document = report.as_dict()
        assert json.loads(json.dumps(document, allow_nan=False)) == document, type(report)


def test_report_dicts_keep_their_fields():
    from samis.sam.run import RunReport
    from samis.sam.select_run import SelectionReport

    run = RunReport("toy", "sam-tiny-random", "all", 3, computed=["a", "b"], skipped=["c"], seconds=0.5,
                    cache_dir=Path("/tmp/cache")).as_dict()
    assert run["images_per_second"] == 4.0 and run["cache_dir"] == "/tmp/cache" and run["skipped"] == ["c"]
    selection = SelectionReport("m+oracle", "oracle", 3, True, mean_iou=0.5)
    assert selection.summary() == "wrote m+oracle: 3 maps, mean IoU 0.5000, 0.0 s  [upper bound: uses ground truth]"
    assert jsonable({"x": (np.int64(2), float("inf")), "p": Path("/a")}) == {"x": [2, None], "p": "/a"}


def _all_subclasses(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


# ---- the CLI printer --------------------------------------------------------------------------------------------
def test_cli_printer_writes_to_stderr_only(capsys):
    with progress_printer(True) as progress:
        for done in range(4):
            progress(RunProgress(done, 3, "ft"))
        progress(RunProgress(0, 2, "evaluate", unit="image-method pairs"))
        progress(RunProgress(2, 2, "evaluate", unit="image-method pairs", detail="last one"))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ft" in captured.err and "3/3" in captured.err
    assert "evaluate" in captured.err and "2/2" in captured.err and "last one" in captured.err


def test_cli_printer_disabled_gives_no_callback(capsys):
    with progress_printer(False) as progress:
        assert progress is None
    assert capsys.readouterr() == ("", "")


def test_cli_command_draws_progress_on_a_terminal_and_keeps_stdout_clean(workspace, toy, capsys, monkeypatch):
    from samis.cli import main

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["--workspace", str(workspace.root), "baseline", "toy", "otsu"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("\rotsu:") and "6/6" in captured.err  # the tqdm bar
    assert captured.out.startswith("otsu ") and "\r" not in captured.out
    assert main(["--workspace", str(workspace.root), "baseline", "toy", "otsu", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["runs"][0]["skipped"] == 6
    assert captured.err == ""  # JSON output: no progress at all


# ---- registries ---------------------------------------------------------------------------------------------------
def test_selection_registry_holds_exactly_the_strategies():
    from samis.errors import SamError
    from samis.sam.selection import NEEDS_GROUND_TRUTH, STRATEGIES, STRATEGY_REGISTRY, get_strategy

    assert STRATEGIES == ("oracle", "best-single", "inside-gt", "small-union", "contrast")
    assert set(STRATEGY_REGISTRY) == set(STRATEGIES)
    assert NEEDS_GROUND_TRUTH == {"oracle", "best-single", "inside-gt"}
    assert {n for n, s in STRATEGY_REGISTRY.items() if s.grid} == {"small-union", "contrast"}
    assert {n for n, s in STRATEGY_REGISTRY.items() if s.heuristic_search} == {"oracle"}
    assert all(s.name == n and callable(s.select) for n, s in STRATEGY_REGISTRY.items())
    with pytest.raises(SamError, match="unknown selection strategy 'nope'"):
        get_strategy("nope")


def test_prompt_registry_holds_box_and_point():
    from samis.sam.prompts import PROMPT_KINDS, PROMPTS

    assert PROMPT_KINDS == ("box", "point") and set(PROMPTS) == {"box", "point"}
