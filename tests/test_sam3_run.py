"""SAM 3 over a dataset with the test-size model (random weights): text prompts, exemplars, box and point prompts.

Instances → cache → maps → evaluate → tables; resume after a kill; Ray gives the same bytes; a deployable text run
reads no ground truth and no class label; own-class and exemplar rows are marked † everywhere.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from killed_run import run_killed
from samis.datasets import load_dataset, register_dataset
from samis.errors import SamError
from samis.methods import describe
from samis.models import get_model

pytest.importorskip("sam3")
pytest.importorskip("open_clip")

LOW = 0.45  # the test-size model's scores spread around 0.5: a threshold that keeps some instances


def _main(workspace, capsys, *args):
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _maps(workspace, dataset, method):
    folder = workspace.method_dir(dataset, method)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def _run(workspace, dataset_id, request, **kwargs):
    from samis.sam.sam3_run import run_sam3_over_dataset

    return run_sam3_over_dataset(workspace, load_dataset(workspace, dataset_id), "tiny-sam3", request,
                                 load=(None, "cpu"), **kwargs)


def test_request_and_vocabulary_bad_input_is_one_line():
    from samis.sam.text_prompts import Sam3Request, parse_vocabulary

    assert parse_vocabulary(" scratch ,crack,  oil   stain,crack") == ("scratch", "crack", "oil stain")
    for text, message in (("", "--vocabulary: the vocabulary is empty; give terms such as \"scratch,crack\""),
                          ("scratch,,crack", "--vocabulary: term 2 of 'scratch,,crack' is empty"),
                          ("scratch, ", "--vocabulary: term 2 of 'scratch, ' is empty")):
        with pytest.raises(SamError) as error:
            parse_vocabulary(text)
        assert str(error.value) == message
    with pytest.raises(SamError, match=r"^--prompts: SAM 3 has no 'automatic' mode"):
        Sam3Request("automatic").checked()
    with pytest.raises(SamError, match=r"^--score-threshold: 1.5 is outside 0 to 1$"):
        Sam3Request("text", ("scratch",), 1.5).checked()
    with pytest.raises(SamError, match=r"^--vocabulary: the vocabulary is empty"):
        Sam3Request("text", ()).checked()


def test_method_ids_name_the_vocabulary_and_mark_upper_bounds():
    from samis.sam.sam3_run import sam3_method_id
    from samis.sam.text_prompts import Sam3Request

    model = get_model("tiny-sam3")
    one, two = Sam3Request("text", ("scratch", "crack")), Sam3Request("text", ("crack",))
    assert sam3_method_id(model, one) != sam3_method_id(model, two)
    assert sam3_method_id(model, one).startswith("sam3-tiny-random+text-") and len(one.how()) == len("text-") + 8
    assert sam3_method_id(model, Sam3Request("text", ("crack",), 0.3, "union")).endswith("+text-" + two.vocabulary_hash
                                                                                         + "-union-s0.3")
    deployable = describe(sam3_method_id(model, one))
    assert deployable.prompt == "text" and not deployable.upper_bound and deployable.random_weights
    for mode in ("text-own", "exemplar", "box", "point"):
        info = describe(sam3_method_id(model, Sam3Request(mode, ("scratch",))))
        assert info.prompt == mode and info.upper_bound, mode
    assert "class label" in describe("sam3-tiny-random+text-own").note


def test_default_vocabulary_is_the_defect_class_names(tmp_path, workspace, make_folder_dataset):
    from samis.datasets import Dataset, Sample
    from samis.sam.text_prompts import default_vocabulary

    root, _ = make_folder_dataset(n=3)
    assert default_vocabulary(register_dataset(workspace, "toy", root, "folder")) == ("patch", "scratch")
    mt = Dataset("mt", "mt", tmp_path, [Sample(f"s{i}", tmp_path, tmp_path, c)
                                        for i, c in enumerate(("Blowhole", "Free", "Crack"))], {})
    assert default_vocabulary(mt) == ("blowhole", "crack")  # the defect-free class is not a term
    demo_like = Dataset("demo", "folder", tmp_path, [Sample(f"s{i}", tmp_path, tmp_path, c)
                                                     for i, c in enumerate(("scratch", "undamaged", "Good", "patch"))], {})
    assert default_vocabulary(demo_like) == ("patch", "scratch")  # nor is the demo's (or MVTec AD's "good")
    bare = Dataset("bare", "folder", tmp_path, [Sample("s", tmp_path, tmp_path, "all")], {})
    with pytest.raises(SamError, match=r"^dataset 'bare' has no defect class names to prompt SAM 3 with; give "):
        default_vocabulary(bare)


def test_a_different_vocabulary_gives_different_maps(workspace, make_folder_dataset):
    from samis.sam.text_prompts import Sam3Request

    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root, "folder")
    first = _run(workspace, "toy", Sam3Request("text", ("scratch",), LOW))
    second = _run(workspace, "toy", Sam3Request("text", ("crack", "oil stain"), LOW))
    assert first.method != second.method and first.instances > 0 and second.instances > 0
    assert _maps(workspace, "toy", first.method) != _maps(workspace, "toy", second.method)


def test_a_deployable_text_run_reads_no_ground_truth_and_no_class_label(tmp_path, workspace, make_folder_dataset,
                                                                        monkeypatch):
    from samis.sam import sam3_run
    from samis.sam.text_prompts import Sam3Request

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "clean", root, "folder")
    vocabulary = ("patch", "scratch")  # the class names, as the default vocabulary gives them
    clean = _run(workspace, "clean", Sam3Request("text", vocabulary, LOW))
    own_clean = _run(workspace, "clean", Sam3Request("text-own", vocabulary, LOW))
    # the same images; every ground-truth file unreadable and every label swapped (patch <-> scratch)
    planted = tmp_path / "planted"
    (planted / "images").mkdir(parents=True)
    (planted / "masks").mkdir()
    for image in (root / "images").iterdir():
        (planted / "images" / image.name).write_bytes(image.read_bytes())
        (planted / "masks" / image.name).write_bytes((root / "masks" / image.name).read_bytes())
    rows = (root / "classes.csv").read_text().splitlines()
    swapped = [rows[0]] + [r.replace("patch", "X").replace("scratch", "patch").replace("X", "scratch") for r in rows[1:]]
    (planted / "classes.csv").write_text("\n".join(swapped) + "\n")
    register_dataset(workspace, "planted", planted, "folder")
    for mask in (planted / "masks").iterdir():
        mask.write_bytes(b"not a mask")

    def no_ground_truth(*args, **kwargs):
        raise AssertionError("a deployable text run read a ground-truth file")

    monkeypatch.setattr(sam3_run, "read_mask", no_ground_truth)
    text = _run(workspace, "planted", Sam3Request("text", vocabulary, LOW))
    assert _maps(workspace, "planted", text.method) == _maps(workspace, "clean", clean.method)
    own = _run(workspace, "planted", Sam3Request("text-own", vocabulary, LOW))  # reads the labels: it changes
    assert _maps(workspace, "planted", own.method) != _maps(workspace, "clean", own_clean.method)
    with pytest.raises(AssertionError, match="read a ground-truth file"):
        _run(workspace, "planted", Sam3Request("exemplar", (), LOW))


def test_the_whole_path_instances_maps_evaluate_tables(workspace, make_folder_dataset, capsys):
    from samis.sam.masks import read_mask_set
    from samis.store import read_manifest

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root, "folder")
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam3", "--device", "cpu",
                           "--prompts", "text,exemplar,box,point", "--score-threshold", str(LOW), "--format", "json")
    assert code == 0, err
    reports = json.loads(out)["prompts"]
    methods = [r["method"] for r in reports]
    assert [describe(m).prompt for m in methods] == ["text", "exemplar", "box", "point"]
    assert reports[0]["vocabulary"] == ["patch", "scratch"] and not reports[0]["upper_bound"]
    assert all(r["upper_bound"] for r in reports[1:])
    found, provenance = read_mask_set(workspace.sam_cache_dir(methods[0], "toy") / "img_001.npz")
    assert set(provenance["instance_prompts"]) <= {"patch", "scratch"} and len(found) == provenance["n_masks"]
    assert (found.predicted_iou >= LOW).all() and "random" in provenance["weights"]
    manifest = read_manifest(workspace, "toy", methods[0])
    assert manifest["vocabulary"] == ["patch", "scratch"] and manifest["upper_bound"] is False
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam3", "--device", "cpu",
                           "--prompts", "text", "--text-per-class", "--score-threshold", str(LOW))
    assert code == 0 and "+text-own-s0.45" in out and "upper bound" in out, err
    code, out, err = _main(workspace, capsys, "evaluate", "toy")
    assert code == 0, err
    code, out, err = _main(workspace, capsys, "report", "toy", "--format", "csv")
    assert code == 0, err
    lines = {line.split(",")[0]: line for line in out.splitlines() if line.startswith("sam3-")}
    assert len(lines) == 5
    for method, line in lines.items():
        dagger = describe(method).upper_bound
        assert dagger == ("exemplar" in method or "box" in method or "point" in method or "text-own" in method)
        assert ("†" in line or "upper" in line.lower() or "true" in line.lower()) == dagger, line
    code, out, err = _main(workspace, capsys, "report", "toy", "--family", "--format", "csv")
    assert code == 0, err
    family = [line.split(",") for line in out.splitlines()[1:] if line]
    assert [row[0] for row in family] == ["false", "true", "true", "true", "true"]  # SAM 3 text among the deployable
    assert family[0][1] == methods[0] and all(row[1].endswith(" †") for row in family[1:])
    assert all(row[2] == "SAM 3" for row in family)


def test_bad_input_is_one_line_and_writes_nothing(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root, "folder")
    cases = [
        (["--vocabulary", ""], "error: --vocabulary: the vocabulary is empty"),
        (["--vocabulary", "scratch,,crack"], "error: --vocabulary: term 2 of 'scratch,,crack' is empty"),
        (["--prompts", "automatic"], "error: --prompts: SAM 3 has no 'automatic' mode"),
        (["--selection", "oracle"], "error: --selection: SAM 3 has no automatic masks to select from"),
        (["--text-per-class", "--vocabulary", "crack"], "error: --text-per-class gives each image its own class"),
        (["--checkpoint", "x.pt"], "error: --model tiny-sam3 is a test-size model with random weights"),
    ]
    for flags, start in cases:
        code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam3", "--device", "cpu", *flags)
        assert code != 0 and err.strip().startswith(start) and len(err.strip().splitlines()) == 1, (flags, err)
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--vocabulary", "crack")
    assert code != 0 and err.strip() == ("error: --vocabulary is a SAM 3 option; SAM (tiny) has no text prompts "
                                         "(use --model tiny-sam3 or sam3)")
    assert not (workspace.root / "cache").exists() and not workspace.method_dir("toy", "x").parent.exists() or \
        not any(p.name.startswith("sam3") for p in workspace.method_dir("toy", "x").parent.iterdir())


def test_a_second_vocabulary_under_the_same_id_is_refused(workspace, make_folder_dataset):
    from samis.sam.text_prompts import Sam3Request
    from samis.store import read_manifest, write_manifest

    root, _ = make_folder_dataset(n=1)
    register_dataset(workspace, "toy", root, "folder")
    report = _run(workspace, "toy", Sam3Request("text", ("scratch",), LOW))
    manifest = read_manifest(workspace, "toy", report.method)
    write_manifest(workspace, "toy", report.method, {**manifest, "vocabulary": ["crack"]})  # as a hash collision would
    before = _maps(workspace, "toy", report.method)
    with pytest.raises(SamError) as error:
        _run(workspace, "toy", Sam3Request("text", ("scratch",), LOW))
    assert str(error.value) == (f"method {report.method}: its maps were made with the vocabulary crack, not scratch; "
                                "delete the method or use another vocabulary id")
    assert _maps(workspace, "toy", report.method) == before


KILLED_RUN = r"""
import sys
from samis.datasets import load_dataset
from samis.sam.sam3_run import run_sam3_over_dataset
from samis.sam.text_prompts import Sam3Request
from samis.workspace import Workspace
W = Workspace(sys.argv[1])
run_sam3_over_dataset(W, load_dataset(W, "toy"), "tiny-sam3", Sam3Request("text", ("scratch",), 0.45), load=(None, "cpu"))
"""


def test_a_killed_run_resumes_with_the_same_bytes(workspace, make_folder_dataset, tmp_path):
    from samis.sam.text_prompts import Sam3Request
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root, "folder")
    done = run_killed(tmp_path, KILLED_RUN, str(workspace.root))
    assert done.returncode == -9, done.stderr
    request = Sam3Request("text", ("scratch",), LOW)
    from samis.sam.sam3_run import sam3_method_id

    cache = workspace.sam_cache_dir(sam3_method_id(get_model("tiny-sam3"), request), "toy")
    assert len(list(cache.glob("*.npz"))) == 1  # whole files only
    report = _run(workspace, "toy", request)
    assert (len(report.computed), len(report.cached)) == (2, 1)
    fresh = Workspace(tmp_path / "fresh")
    register_dataset(fresh, "toy", root, "folder")
    _run(fresh, "toy", request)
    for path in sorted(cache.glob("*.npz")):
        assert path.read_bytes() == (fresh.sam_cache_dir(report.method, "toy") / path.name).read_bytes(), path.name
    assert _maps(workspace, "toy", report.method) == _maps(fresh, "toy", report.method)


@pytest.mark.slow
def test_ray_gives_the_same_bytes_as_a_local_run(ray_cluster, tmp_path, folder_dataset_writer):
    from samis.engines import EngineSpec
    from samis.sam.text_prompts import Sam3Request
    from samis.workspace import Workspace

    root, _ = folder_dataset_writer(tmp_path, n=4)
    local, remote = Workspace(tmp_path / "local"), Workspace(tmp_path / "ray")
    for workspace in (local, remote):
        register_dataset(workspace, "toy", root)
    request = Sam3Request("text", ("scratch", "patch"), LOW)
    report = _run(local, "toy", request)
    _run(remote, "toy", request, engine=EngineSpec("ray", workers=2))
    mine = {p.name: p.read_bytes() for p in local.sam_cache_dir(report.method, "toy").glob("*.npz")}
    theirs = {p.name: p.read_bytes() for p in remote.sam_cache_dir(report.method, "toy").glob("*.npz")}
    assert len(mine) == 4 and mine == theirs
    assert _maps(local, "toy", report.method) == _maps(remote, "toy", report.method)


# ---- the dashboard: the Run page's SAM 3 panel, the Masks page's instances ----------------------------------------

def test_run_page_runs_sam3_text_and_the_masks_page_shows_its_instances(workspace, make_folder_dataset):
    from test_dashboard import assert_clean, open_page, texts

    root, _ = make_folder_dataset(n=2, shape=(40, 48))
    register_dataset(workspace, "toy", root, "folder")
    at = open_page("run")
    at.selectbox(key="sam_model").select("tiny-sam3").run()
    assert_clean(at)
    assert at.text_input(key="sam3_vocabulary").value == "patch, scratch"  # the dataset's class names
    assert not [m for m in at.multiselect if m.key == "sam_strategies"]  # no automatic masks to select from
    at.text_input(key="sam3_vocabulary").set_value("crack, oil stain").run()
    at.slider(key="sam3_threshold").set_value(0.45).run()
    at.button(key="sam3_go").click().run()
    assert_clean(at)
    assert not at.error, texts(at.error)
    (method,) = [m for m in workspace.prediction_methods("toy") if m.startswith("sam3-tiny-random+text-")]
    assert any(method in s for s in texts(at.success))
    at.text_input(key="sam3_vocabulary").set_value("crack,,stain").run()
    assert any("term 2 of 'crack,,stain' is empty" in e for e in texts(at.error))
    at = open_page("masks", {"dataset": "toy"})
    at.segmented_control(key="masks_family").set_value("SAM 3").run()
    assert_clean(at)
    assert at.selectbox(key="sam3_method").value == method
    table = at.dataframe[0].value
    assert set(table["prompt"]) <= {"crack", "oil stain"} and (table["kept"] == (table["score"] >= 0.45)).all()
    assert any("random weights" in w for w in texts(at.warning))  # warned, as on the SAM view
