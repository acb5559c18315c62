"""The Compare page's "Exclude images tagged `gt error`" switch (issue 27 item 3), through Streamlit's AppTest:
with it on, the measured block (values, intervals, best marks, gap and reference rows) is exactly the page of
the split without those images and the numbers of ``report --exclude-tag "gt error"``; the page says how many
images were left out and by whose tags; off (the default) nothing changes; a tag added after the first render
counts on the next rerun (the left-out images are part of the cache key, no stale cache)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from samis.cli import main
from samis.datasets import register_dataset
from samis.review import ReviewStore
from samis.store import import_predictions

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
TAGGED = ("img_002", "img_005")
LEFT_OUT = "left out 2 images tagged 'gt error' (tags by ann: 1, bob: 1)"


@pytest.fixture
def tagged(workspace, make_folder_dataset, monkeypatch, tmp_path):
    """``toy`` (10 images) with two images tagged ``gt error`` (one on an image × method) and one ``boundary``,
    and ``dropped``: the same files without the two."""
    monkeypatch.setenv("SAMIS_USER", "ann")
    monkeypatch.delenv("SAMIS_READ_ONLY", raising=False)
    root, predictions = make_folder_dataset(n=10)
    toy = register_dataset(workspace, "toy", root, "folder")
    dropped_root = tmp_path / "dropped"
    shutil.copytree(root, dropped_root)
    lines = (dropped_root / "classes.csv").read_text().splitlines()
    (dropped_root / "classes.csv").write_text("\n".join(l for l in lines if l.split(",")[0] not in TAGGED) + "\n")
    for stem in TAGGED:
        (dropped_root / "images" / f"{stem}.png").unlink()
        (dropped_root / "masks" / f"{stem}.png").unlink()
    dropped = register_dataset(workspace, "dropped", dropped_root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, toy, method, predictions[method])
        kept = tmp_path / f"dropped-{method}"
        shutil.copytree(predictions[method], kept)
        for stem in TAGGED:
            (kept / f"{stem}.png").unlink()
        import_predictions(workspace, dropped, method, kept)
    store = ReviewStore(workspace.root)
    store.add_tag("toy", "img_002", "gt error", author="ann")
    store.add_tag("toy", "img_005", "gt error", method="weak", author="bob")
    store.add_tag("toy", "img_007", "boundary", author="ann")  # another tag: kept
    return workspace, store


def open_compare(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)
    at.run()
    at.query_params.update(query)
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _measured(at):
    """The measured block of the comparison table (the frame whose rows have a ``source`` column)."""
    frames = [d.value for d in at.dataframe if "source" in getattr(d.value, "columns", [])]
    return frames[0].reset_index(drop=True)


def _notices(at) -> list[str]:
    return [i.value.replace("\\", "") for i in at.info]


def _report(workspace, capsys, dataset: str, *extra) -> dict:
    capsys.readouterr()
    assert main(["--workspace", str(workspace.root), "report", dataset, "--allow-missing", "--format", "json",
                 *extra]) == 0
    return json.loads(capsys.readouterr().out)


BASE = {"source": "measured", "methods": "good,weak", "uncertainty": "1"}


def test_switch_on_scores_the_split_without_the_tagged_images(tagged, capsys):
    workspace, _ = tagged
    on = open_compare({**BASE, "dataset": "toy", "exclude_gt_error": "1"})
    assert on.toggle(key="cmp_exclude_gt").value is True and "1" in str(on.query_params["exclude_gt_error"])
    assert any(n.startswith(LEFT_OUT[:1].upper() + LEFT_OUT[1:]) and "other 8 images" in n for n in _notices(on))
    assert any(LEFT_OUT in c.value.replace("\\", "") for c in on.caption)  # under the table (and in the exports)
    dropped = open_compare({**BASE, "dataset": "dropped"})
    # values, intervals, significance marks, gap and reference rows: the same as the split without the images
    assert _measured(on).equals(_measured(dropped))
    frame = _measured(on).set_index("method")
    report = _report(workspace, capsys, "toy", "--exclude-tag", "gt error")
    assert any(LEFT_OUT in note for note in report["notes"])
    for row in report["rows"]:
        if row["method"] not in ("good", "weak"):
            continue
        assert row["n_images"] == 8
        checked = 0
        for column in frame.columns:
            metric = column.split(" ")[0].split("@")[0]  # "Fm@max ↑" -> Fm
            if isinstance(row.get(metric), float):
                assert f"{row[metric]:.3f}" in frame.at[row["method"], column], (column, row)
                checked += 1
        assert checked == 5
    # per-class table: 8 images over the classes, as on the dropped split
    assert [d.value.to_dict() for d in on.dataframe if "source" not in getattr(d.value, "columns", [])] == \
           [d.value.to_dict() for d in dropped.dataframe if "source" not in getattr(d.value, "columns", [])]


def test_switch_off_changes_nothing(tagged, capsys):
    workspace, _ = tagged
    off = open_compare({**BASE, "dataset": "toy"})
    assert not any("left out" in n for n in _notices(off))
    assert "exclude_gt_error" not in off.query_params
    toggle = next(t for t in off.toggle if t.key == "cmp_exclude_gt")
    assert toggle.value is False
    report = _report(workspace, capsys, "toy")
    frame = _measured(off).set_index("method")
    for row in report["rows"]:
        if row["method"] in ("good", "weak"):
            assert row["n_images"] == 10 and f"{row['Fm']:.3f}" in frame.at[row["method"], "Fm@max ↑"]
    dropped = open_compare({**BASE, "dataset": "dropped"})
    assert not _measured(off).equals(_measured(dropped))
    toggle.set_value(True).run()  # switched on from the page: the link carries it
    assert off.toggle(key="cmp_exclude_gt").value is True and "1" in str(off.query_params["exclude_gt_error"])
    assert _measured(off).equals(_measured(dropped))


def test_a_tag_added_after_the_first_render_counts_on_the_next_run(tagged):
    _, store = tagged
    at = open_compare({**BASE, "dataset": "toy", "exclude_gt_error": "1"})
    before = _measured(at)
    store.add_tag("toy", "img_008", "gt error", author="cy")  # a colleague, meanwhile
    at.run()
    assert not at.exception
    assert any("left out 3 images tagged 'gt error' (tags by ann: 1, bob: 1, cy: 1)" in n.lower()
               for n in _notices(at))
    assert not _measured(at).equals(before)
    store.remove_tag("toy", "img_008", "gt error", author="cy")
    at.run()
    assert _measured(at).equals(before)  # back to the two: the same numbers as the first render
