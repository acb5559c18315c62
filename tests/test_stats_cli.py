"""The statistics on the command line: report --ci, compare, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json

import pytest

from samis.cli import main
from samis.datasets import load_dataset, register_dataset
from samis.store import import_predictions, write_prediction


@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=24)
    dataset = register_dataset(workspace, "toy", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    return workspace


def run(workspace, *args) -> int:
    return main(["--workspace", str(workspace.root), *map(str, args)])


def test_compare_json_document(toy, capsys):
    assert run(toy, "compare", "toy", "good", "weak", "--b", 200, "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert {k: document[k] for k in ("dataset", "split", "a", "b", "n_images")} == {
        "dataset": "toy", "split": "all", "a": "good", "b": "weak", "n_images": 24}
    sa, fm = document["metrics"]["Sa"], document["metrics"]["maxFm"]
    assert set(sa) >= {"a", "b", "diff", "diff_ci", "p_wilcoxon", "p_holm"}
    assert "p_wilcoxon" not in fm and len(fm["diff_ci"]) == 2
    assert sa["diff"] == pytest.approx(sa["a"] - sa["b"])


def test_compare_same_seed_same_output(toy, capsys):
    outputs = []
    for seed in (4, 4, 5):
        assert run(toy, "compare", "toy", "good", "weak", "--b", 200, "--seed", seed, "--format", "json") == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0]["metrics"]["Sa"]["diff_ci"] != outputs[2]["metrics"]["Sa"]["diff_ci"]


def test_compare_with_missing_maps_uses_the_common_images_and_says_so(toy, capsys):
    for sample in load_dataset(toy, "toy").samples[:10]:
        write_prediction(toy, "toy", "half", sample.id, sample.read_gt())
    assert run(toy, "compare", "toy", "half", "good", "--b", 200, "--format", "json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_images"] == 10
    assert "half has no map for 14 of 24 images" in captured.err


def test_report_ci_json_csv_markdown(toy, capsys):
    assert run(toy, "report", "toy", "--measured", "--ci", 200, "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    row = document["rows"][0]
    assert len(row["Sa_ci"]) == 2 and row["Sa_ci"][0] <= row["Sa"] <= row["Sa_ci"][1]
    assert "B = 200" in document["uncertainty"]["description"]
    assert run(toy, "report", "toy", "--measured", "--ci", "--format", "csv") == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[3:6] == ["Sa", "Sa_lo", "Sa_hi"]
    assert run(toy, "report", "toy", "--measured", "--ci", "--seed", 9, "--format", "markdown") == 0
    text = capsys.readouterr().out
    assert "B = 1000, seed 9, stratified by defect class" in text and "[" in text.split("\n")[4]
    assert "(sig.)" in text or "(tied)" in text


@pytest.mark.parametrize("args, message", [
    (["compare", "toy", "good", "weak", "--b", "50"], "at least 100"),
    (["compare", "toy", "good", "weak", "--b", "many"], "whole number"),
    (["compare", "toy", "good", "weak", "--seed", "x"], "seed"),
    (["compare", "toy", "good", "good"], "two different methods"),
    (["compare", "toy", "good", "nope"], "no predictions for method 'nope'"),
    (["compare", "toy", "good", "weak", "--metrics", "Sa,XYZ"], "unknown metric"),
    (["report", "toy", "--measured", "--ci", "abc", "-o", "OUT"], "whole number"),
    (["report", "toy", "--measured", "--ci", "99", "-o", "OUT"], "at least 100"),
    (["report", "sd900", "--paper", "--ci", "-o", "OUT"], "--ci needs rows measured here"),
])
def test_bad_input_one_line_exit_2_nothing_written(toy, tmp_path, capsys, args, message):
    out = tmp_path / "out.txt"
    args = [str(out) if a == "OUT" else a for a in args]
    assert run(toy, *args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], captured.err
    assert captured.out == "" and not out.exists()


def test_fewer_than_two_images(workspace, make_folder_dataset, capsys):
    root, predictions = make_folder_dataset(n=12)
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "good", predictions["good"])
    sample = load_dataset(workspace, "toy").samples[0]
    write_prediction(workspace, "toy", "one", sample.id, sample.read_gt())
    assert run(workspace, "compare", "toy", "good", "one") == 2
    assert "at least 2 images" in capsys.readouterr().err


def test_report_ci_latex_caption_names_the_bootstrap(toy, capsys):
    assert run(toy, "report", "toy", "--measured", "--ci", 200, "--format", "latex") == 0
    text = capsys.readouterr().out
    assert r"95\% percentile bootstrap" in text and "B = 200, seed 11" in text and "Wilcoxon" in text
    assert "]} (sig.)" in text or "]} (tied)" in text
