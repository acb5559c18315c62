"""Views over large studies: the reference rows are stored per image (scored once, then read), and a page never
starts scoring more pairs than :data:`samis.dashboard.data.PAGE_SCORING_LIMIT` unasked (it names the CLI command
and offers a button instead)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from samis.store import import_predictions

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def toy(two_method_toy):
    return two_method_toy


# ---- reference rows --------------------------------------------------------------------------------------
def test_reference_rows_are_scored_once_then_read_without_a_look_at_any_mask(toy, monkeypatch):
    from samis import evaluation, imageio
    from samis.reference_maps import fill_references, reference_cache, reference_results

    workspace, dataset = toy
    first = reference_results(workspace, "toy", dataset.samples)
    assert {name: len(result.stems) for name, result in first.items()} == {"ref:zeros": 16, "ref:const128": 16}
    assert all(reference_cache(workspace, "toy", name).path.is_file() for name in first)
    assert fill_references(workspace, "toy", dataset.samples) == 0  # every row current: nothing scored again

    def no_read(*args, **kwargs):
        raise AssertionError("a mask was read")

    with monkeypatch.context() as patched:
        patched.setattr(imageio, "read_mask", no_read)
        patched.setattr(evaluation, "read_mask", no_read)
        again = reference_results(workspace, "toy", dataset.samples, trusting=True)
    def numbers(scores: dict) -> dict:
        return {key: value for key, value in scores.items() if isinstance(value, (int, float))}

    for name, result in first.items():
        assert numbers(again[name].scores()) == pytest.approx(numbers(result.scores()), abs=1e-12)
        assert numbers(result.scores()).keys() >= {"Sa", "MAE", "maxEm", "Fw", "maxFm"}


def test_a_changed_mask_gets_its_reference_rows_scored_again(toy):
    from samis.reference_maps import fill_references, reference_results

    workspace, dataset = toy
    before = reference_results(workspace, "toy", dataset.samples)["ref:zeros"]
    sample = next(s for s in dataset.samples if s.read_gt().any())
    mask = np.zeros_like(sample.read_gt(), np.uint8)
    mask[:5, :5] = 255
    Image.fromarray(mask).save(sample.gt_path)
    assert fill_references(workspace, "toy", dataset.samples) == 2  # that image, both references
    after = reference_results(workspace, "toy", dataset.samples, trusting=True)["ref:zeros"]
    row = before.stems.index(sample.id)
    assert not np.array_equal(before.scalars[row], after.scalars[row])


def test_cli_evaluate_stores_the_reference_rows_the_tables_show(toy, capsys):
    from samis.cli import main
    from samis.reference_maps import fill_references

    workspace, dataset = toy
    assert main(["--workspace", str(workspace.root), "evaluate", "toy"]) == 0
    assert fill_references(workspace, "toy", dataset.samples) == 0
    # a mask changed: the CLI's evaluate checks it and the reference rows follow (they take the hashes it just saved)
    sample = next(s for s in dataset.samples if s.read_gt().any())
    mask = np.zeros_like(sample.read_gt(), np.uint8)
    mask[:4, :4] = 255
    Image.fromarray(mask).save(sample.gt_path)
    assert main(["--workspace", str(workspace.root), "evaluate", "toy"]) == 0
    assert fill_references(workspace, "toy", dataset.samples) == 0


# ---- how much a page would score -----------------------------------------------------------------------
def test_unscored_pairs_count_what_the_batch_jobs_then_store(toy):
    from samis.cli import main
    from samis.image_level import unscored_pairs as image_level_pairs
    from samis.pixel_level import unscored_pairs as pixel_level_pairs

    workspace, dataset = toy
    assert pixel_level_pairs(workspace, dataset, ["good", "weak"], "test") == 2 * 16  # test and its calibration (train)
    assert image_level_pairs(workspace, dataset, ["good", "weak"], "all") == 2 * 16
    assert main(["--workspace", str(workspace.root), "evaluate", "toy", "--pixel-level", "--methods", "good"]) == 0
    assert pixel_level_pairs(workspace, dataset, ["good", "weak"], "test") == 16
    assert main(["--workspace", str(workspace.root), "evaluate", "toy", "--image-level"]) == 0
    assert image_level_pairs(workspace, dataset, ["good", "weak"], "all") == 0
    assert image_level_pairs(workspace, dataset, ["good"], "all", min_area=3) == 16  # another setting, other rows


# ---- pages -----------------------------------------------------------------------------------------------
def _page(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.query_params.update(query)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_large_good_parts_job_waits_for_a_click_and_names_the_command(toy, monkeypatch):
    from samis.dashboard import data

    monkeypatch.setattr(data, "PAGE_SCORING_LIMIT", 10)  # the toy's 32 pairs count as a large job
    at = _page("good_parts", {"dataset": "toy", "methods": "good,weak", "split": "all"})
    info = " ".join(str(i.value) for i in at.info).replace("\\", "")  # as shown: markdown escapes dropped
    assert "32 image-method pairs have no stored image-level values (for good parts) yet" in info
    assert "python -m samis evaluate toy --image-level --split all" in info
    assert not at.dataframe, "nothing is shown before the job has run"
    at.button(key="start_image-level").click().run()
    assert not at.exception and at.dataframe, "the click scores the pairs and the page shows them"


def offered(at: AppTest, metric: str) -> bool:
    """The Cases metric box offers ``metric`` (options are shown by their labels, which start with the name)."""
    return any(option.startswith(metric) for option in at.selectbox(key="cases_metric").options)


def test_cases_goes_on_without_the_operating_point_while_a_large_job_waits(toy, monkeypatch):
    import threading

    from samis.cases import OPERATING_POINT_IOU
    from samis.cli import main
    from samis.dashboard import data

    workspace, _ = toy
    monkeypatch.setattr(data, "PAGE_SCORING_LIMIT", 10)
    query = {"dataset": "toy", "methods": "good,weak", "split": "test"}
    at = _page("cases", query)
    assert "python -m samis evaluate toy --pixel-level --split test" in " ".join(str(i.value) for i in at.info)
    assert at.dataframe, "the per-image table is shown all the same"
    assert not offered(at, OPERATING_POINT_IOU)
    assert any("not stored yet" in str(c.value) for c in at.caption)
    # the batch job stores the histograms; then the page reads them (nothing left to score) and offers the metric.
    # Reading more stored pairs than the limit takes time too (minutes at 1.8 million): the page does not wait
    assert main(["--workspace", str(workspace.root), "evaluate", "toy", "--pixel-level", "--split", "test"]) == 0
    release, real = threading.Event(), data.score_operating_point

    def held(*args, **kwargs):  # the real reading, once the test lets it go
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "score_operating_point", held)
    at = _page("cases", query)
    assert not at.info and at.dataframe and not offered(at, OPERATING_POINT_IOU)
    shown = " ".join(str(c.value) for c in at.caption).replace("\\", "")  # as shown: markdown escapes dropped
    assert "being computed in the background (running for" in shown
    release.set()
    job = data._jobs().find(("operating-point", str(workspace.root), "toy", "test", ("good", "weak"),
                             data.fingerprint(str(workspace.root), "toy")))
    assert job is not None and job.finished.wait(60)
    at.run()
    assert offered(at, OPERATING_POINT_IOU)
    # within the limit, the page waits for it, as before
    monkeypatch.setattr(data, "PAGE_SCORING_LIMIT", 1_000)
    assert offered(_page("cases", {**query, "split": "train"}), OPERATING_POINT_IOU)


def test_cases_says_a_clicked_operating_point_job_is_running_and_shows_it_once_done(toy, monkeypatch):
    import threading

    from samis.cases import OPERATING_POINT_IOU
    from samis.dashboard import data

    release, real = threading.Event(), data.score_operating_point

    def held(*args, **kwargs):  # the real work, once the test lets it go
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "PAGE_SCORING_LIMIT", 10)
    monkeypatch.setattr(data, "score_operating_point", held)
    at = _page("cases", {"dataset": "toy", "methods": "good,weak", "split": "test"})
    at.button(key="start_operating-point").click().run()
    assert not at.exception and at.dataframe, "the page does not wait for a large job"
    assert not at.info, "the offer goes once the job is started"
    assert any("being computed in the background" in str(c.value) for c in at.caption)
    assert not offered(at, OPERATING_POINT_IOU)
    release.set()
    job = data._jobs().find(("operating-point", str(toy[0].root), "toy", "test", ("good", "weak"),
                             data.fingerprint(str(toy[0].root), "toy")))
    assert job is not None and job.finished.wait(60)
    at.run()
    assert not at.exception and offered(at, OPERATING_POINT_IOU)


def test_views_read_stored_histograms_and_good_parts_values_without_a_look_at_any_map(toy, monkeypatch, tmp_path):
    import shutil

    from samis import result_cache
    from samis.cli import main
    from samis.image_level import evaluate_image_level, image_level_trusting_generation
    from samis.pixel_level import evaluate_pixel_level, pixel_level_trusting_generation

    workspace, dataset = toy
    ws = ["--workspace", str(workspace.root), "evaluate", "toy"]
    assert main([*ws, "--pixel-level", "--split", "test"]) == 0 and main([*ws, "--image-level"]) == 0
    pixel, image = evaluate_pixel_level(workspace, dataset, split="test"), evaluate_image_level(workspace, dataset)
    looked, maps_dir = [], str(workspace.predictions_dir("toy"))
    real_stats = result_cache.bulk_stats

    def stats(paths):  # the maps' stats only (the masks' are read as always: they are a thirteenth of the files)
        looked.extend(path for path in map(str, paths.values()) if path.startswith(maps_dir))
        return real_stats(paths)

    monkeypatch.setattr(result_cache, "bulk_stats", stats)
    trusted_pixel = pixel_level_trusting_generation(workspace, dataset, split="test")
    trusted_image = image_level_trusting_generation(workspace, dataset)
    assert looked == [] and trusted_pixel.computed == trusted_image.computed == 0
    for method in ("good", "weak"):
        assert trusted_pixel.methods[method].values == pytest.approx(pixel.methods[method].values, nan_ok=True)
        assert trusted_pixel.methods[method].threshold == pixel.methods[method].threshold
        np.testing.assert_array_equal(trusted_image.methods[method].area, image.methods[method].area)
    # a new import of 'good' gives its maps a new version: a view checks them again (and 'weak' stays trusted)
    copy = shutil.copytree(workspace.method_dir("toy", "good"), tmp_path / "good-again")
    import_predictions(workspace, dataset, "good", copy)
    again = pixel_level_trusting_generation(workspace, dataset, split="test")
    assert len(looked) == 16 and all("/good/" in path for path in looked)
    assert again.methods["good"].values == pytest.approx(pixel.methods["good"].values, nan_ok=True)


def test_the_inspection_views_result_holds_no_per_image_histograms_and_shows_what_a_joint_run_shows(toy):
    import json

    import pandas as pd

    from samis.errors import EvaluationError
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level, pixel_level_trusting_generation

    workspace, dataset = toy
    options = PixelLevelOptions(allow_missing=True)
    joint = evaluate_pixel_level(workspace, dataset, methods=["good", "weak"], split="test", options=options)
    kept = []

    def keep(method):  # what the Inspection page keeps of each method, as soon as it is measured
        assert method.histograms is not None and all(k.histograms is None for k in kept)
        kept.append(method.summarized(48))
        return kept[-1]

    light = pixel_level_trusting_generation(workspace, dataset, ["good", "weak"], "test", options, keep=keep)
    assert [m.method for m in kept] == ["good", "weak"]
    assert all(mine is theirs for mine, theirs in zip(light.methods.values(), kept, strict=True))
    assert all(m.histograms is None for m in light.methods.values())
    pd.testing.assert_frame_equal(light.scores_frame(), joint.scores_frame())
    pd.testing.assert_frame_equal(light.by_size_frame(), joint.by_size_frame())
    for method in ("good", "weak"):
        for curve in ("roc", "pro"):
            for mine, theirs in zip(light.curves()[method][curve], joint.curves()[method][curve]):
                np.testing.assert_array_equal(mine, theirs)
        for n in (1, 3, 48):
            pd.testing.assert_frame_equal(light.worst_regions(method, n), joint.worst_regions(method, n))
    assert json.dumps(light.to_json_dict(), sort_keys=True) == json.dumps(joint.to_json_dict(), sort_keys=True)
    with pytest.raises(EvaluationError, match="summarized away"):
        light.per_image_iou_frame()


def test_the_prompts_view_reads_click_traces_without_importing_torch():
    """A server that only shows results never loads torch for it (about 0.7 GB of RSS and 4 s per process)."""
    import subprocess
    import sys

    code = "import sys, samis.prompts.views; print('torch' in sys.modules, 'segment_anything' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[1])
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["False", "False"]


def test_a_map_listing_carries_its_stats_so_planning_scans_the_folder_once(toy, monkeypatch):
    import os

    from samis import file_stats
    from samis.evaluation import maps_of_split

    workspace, dataset = toy
    ids = [s.id for s in dataset.samples]
    present, missing = maps_of_split(workspace, dataset, "all", "good", ids[::-1], allow_missing=False)
    assert list(present) == ids[::-1] and not missing  # split order kept
    monkeypatch.setattr(file_stats, "_folder_stats", lambda folder: pytest.fail("the folder was scanned again"))
    stats = file_stats.bulk_stats(present)
    for stem, path in present.items():
        found = os.stat(path)
        assert stats[stem] == (found.st_size, found.st_mtime_ns)


def test_folders_listed_by_processes_side_by_side_equal_one_listing_each(tmp_path):
    import os

    from samis.file_stats import listed_with_stats, listed_with_stats_many

    folders = []
    for k in range(3):
        folder = tmp_path / f"m{k}"
        folder.mkdir()
        for i in range(5 + k):
            (folder / f"img{i}.png").write_bytes(b"x" * (i + k))
        (folder / ".hidden.png").write_bytes(b"h")
        (folder / "notes.txt").write_text("not a map")
        os.symlink(folder / "gone.png", folder / "dangling.png")  # listed, but its stat fails: no stat
        folders.append(str(folder))
    folders.append(str(tmp_path / "absent"))
    together = listed_with_stats_many(folders, ".png", workers=2)
    for folder, listing in zip(folders, together):
        alone = listed_with_stats(folder, ".png")
        assert dict(listing) == dict(alone) and listing.stats == alone.stats
    first = together[0]
    assert sorted(first) == ["dangling", *(f"img{i}" for i in range(5))] and "dangling" not in first.stats
    assert first.stats["img3"] == (os.stat(first["img3"]).st_size, os.stat(first["img3"]).st_mtime_ns)
    assert together[-1] == {} and together[-1].stats == {}


def test_a_warm_run_that_lists_maps_in_processes_rescores_exactly_the_changed_map(toy, monkeypatch):
    import os

    from samis import evaluation

    workspace, dataset = toy
    monkeypatch.setattr(evaluation, "PARALLEL_LISTING_MIN", 1)  # the folders of two methods: scanned side by side
    first = evaluation.evaluate(workspace, dataset, ["good", "weak"], workers=2)
    assert evaluation.evaluate(workspace, dataset, ["good", "weak"], workers=2).computed == 0
    changed = workspace.method_dir(dataset.id, "weak") / f"{dataset.samples[4].id}.png"
    Image.fromarray(255 - np.asarray(Image.open(changed))).save(changed)
    os.utime(changed, ns=(1, 1))  # a new stat as well as new content
    again = evaluation.evaluate(workspace, dataset, ["good", "weak"], workers=2)
    assert again.computed == 1
    assert again.scores["good"]["Sa"] == first.scores["good"]["Sa"]
    assert again.scores["weak"]["MAE"] != first.scores["weak"]["MAE"]  # the new content was scored


def test_the_summarized_pixel_level_run_reports_what_the_full_run_reports_intervals_included(toy):
    import json

    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level, evaluate_pixel_level_summarized

    workspace, dataset = toy
    options = PixelLevelOptions(resamples=200)
    full = evaluate_pixel_level(workspace, dataset, split="test", options=options)
    light = evaluate_pixel_level_summarized(workspace, dataset, split="test", options=options)
    assert all(m.histograms is None for m in light.methods.values())
    assert json.dumps(light.to_json_dict(), sort_keys=True) == json.dumps(full.to_json_dict(), sort_keys=True)
    assert any("_ci" in key for key in json.dumps(light.to_json_dict()).split('"'))
