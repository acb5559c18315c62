"""Clicks with each family's real predictor (test-size random weights), on the runner, and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from samis.datasets import load_dataset, register_dataset
from samis.engines import EngineSpec
from samis.prompts.click_run import ClickRun, clicks_cache_dir, read_trace_file, run_clicks, session_of

FAMILY_MODELS = ["tiny", "tiny-sam2", "tiny-hq", "tiny-evit"]


def _main(workspace, capsys, *args) -> tuple[int, str, str]:
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("key", FAMILY_MODELS)
def test_each_family_predictor_gets_every_click_and_its_previous_logits(key):
    from samis.prompts.adapters import interactive_adapter
    from samis.sam.engine import load_sam

    loaded = load_sam(key, None, "cpu")
    adapter = interactive_adapter(loaded)
    predictor = adapter.predictor
    calls, embeds = [], []
    real_predict, real_set = predictor.predict, predictor.set_image

    def spy_predict(**kwargs):
        out = real_predict(**kwargs)
        calls.append({**kwargs, "returned_logits": np.asarray(out[2], np.float32).copy()})
        return out

    predictor.predict = spy_predict
    predictor.set_image = lambda image, *a, **k: (embeds.append(image.shape), real_set(image, *a, **k))[1]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    gt = np.zeros((48, 64), bool)
    gt[10:30, 20:50] = True
    trace = session_of(adapter, image, gt, max_clicks=3, mask_input=True)
    assert len(embeds) == 1  # the image embedding is computed once for the three clicks
    assert len(calls) == 3 == len(trace.clicks)
    for k, call in enumerate(calls):
        assert call["point_coords"].tolist() == [[c.x, c.y] for c in trace.clicks[: k + 1]]
        assert call["point_labels"].tolist() == [int(c.positive) for c in trace.clicks[: k + 1]]
        assert call["multimask_output"] is (k == 0)
    assert calls[0]["mask_input"] is None
    for previous, call in zip(calls, calls[1:]):
        best = previous["returned_logits"]
        assert call["mask_input"].shape[0] == 1 and call["mask_input"].shape[1:] == best.shape[1:]
        assert any(np.array_equal(call["mask_input"][0], one) for one in best)  # the previous answer's logits
    assert trace.masks.shape == (3, 48, 64) and trace.masks.dtype == bool


def test_a_model_without_an_interactive_predictor_is_refused_in_one_line(workspace, make_folder_dataset, capsys,
                                                                         monkeypatch):
    import samis.prompts.adapters as adapters

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root)
    monkeypatch.delitem(adapters.ADAPTERS, "efficientvit-sam")  # as SAM 3 is until its adapter is added
    before = _files(workspace.root)
    code, out, err = _main(workspace, capsys, "clicks", "toy", "--model", "tiny-evit")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no interactive predictor" in err and "EfficientViT-SAM" in err
    assert _files(workspace.root) == before


@pytest.mark.parametrize("args, words", [
    (["--max-clicks", "0"], "--max-clicks"), (["--max-clicks", "ten"], "--max-clicks"),
    (["--iou", "0.85,1.5"], "--iou"), (["--iou", "0"], "--iou"), (["--iou", "abc"], "--iou")])
def test_bad_click_options_are_one_line_and_write_nothing(workspace, make_folder_dataset, capsys, args, words):
    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root)
    before = _files(workspace.root)
    code, out, err = _main(workspace, capsys, "clicks", "toy", "--model", "tiny", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err
    assert _files(workspace.root) == before


def test_clicks_command_json_counts_defect_free_and_resumes(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=6, empty_gt=2)
    register_dataset(workspace, "toy", root)
    code, out, err = _main(workspace, capsys, "clicks", "toy", "--model", "tiny", "--device", "cpu",
                           "--max-clicks", "4", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert {"dataset", "split", "model", "max_clicks", "noc", "noc_ci", "nof", "miou_at", "images"} <= set(document)
    assert document["model"] == "sam-tiny-random" and "random weights" in document["note"]
    assert document["skipped_defect_free"] == 2 and len(document["images"]) == 4
    assert set(document["noc"]) == {"0.85", "0.9"} and len(document["miou_at"]) == 4
    for image in document["images"]:
        assert 1 <= len(image["clicks"]) == len(image["iou"]) <= 4
        assert image["clicks"][0][2] == 1  # the first click is positive
    # the document's numbers from the images it lists, computed here
    ious = [im["iou"] + [im["iou"][-1]] * (4 - len(im["iou"])) for im in document["images"]]
    assert document["miou_at"] == pytest.approx(np.mean(ious, axis=0).tolist())
    reach = [next((k for k, v in enumerate(i, 1) if v >= 0.85), 4) for i in ious]
    assert document["noc"]["0.85"] == pytest.approx(np.mean(reach))
    folder = clicks_cache_dir(workspace, "sam-tiny-random", "toy", 4, True)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")}
    assert len(stamps) == 6
    code, again, _ = _main(workspace, capsys, "clicks", "toy", "--model", "tiny", "--device", "cpu",
                           "--max-clicks", "4", "--format", "json")
    assert code == 0 and json.loads(again)["images"] == document["images"]
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")} == stamps  # read from the cache
    stored = read_trace_file(folder / f"{document['images'][0]['image']}.npz")
    assert stored["masks"].shape[0] == len(stored["ious"])


def test_a_killed_run_resumes_where_it_stopped(workspace, make_folder_dataset):
    root, _ = make_folder_dataset(n=5)
    dataset = register_dataset(workspace, "toy", root)
    run = ClickRun("tiny", max_clicks=3, device="cpu")
    first = run_clicks(workspace, dataset, run)
    folder = clicks_cache_dir(workspace, "sam-tiny-random", "toy", 3, True)
    (folder / "img_001.npz").unlink()  # as if the run had been killed before this image
    (folder / "img_003.npz").write_bytes(b"damaged")
    second = run_clicks(workspace, dataset, run)
    assert (second.computed, second.cached) == (2, 3)
    assert [i.ious for i in second.images] == [i.ious for i in first.images]


@pytest.mark.slow
def test_clicks_on_ray_equal_a_local_run(ray_cluster, tmp_path, make_folder_dataset):
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=4)
    results = []
    for name, engine in (("local", None), ("ray", EngineSpec("ray", workers=2))):
        workspace = Workspace(tmp_path / name)
        dataset = register_dataset(workspace, "toy", root)
        result = run_clicks(workspace, load_dataset(workspace, "toy"),
                            ClickRun("tiny-sam2", max_clicks=3, device="cpu", engine=engine))
        assert result.computed == 4
        results.append([(i.image, i.clicks, i.ious) for i in result.images])
    assert results[0] == results[1]
