"""Dashboard helpers that need no Streamlit session: allowed roots, method colours, coverage, fingerprint."""

from __future__ import annotations

import os

import numpy as np
import pytest

from samis.colors import PALETTE, method_colors
from samis.dashboard.coverage import coverage, coverage_matrix, dataset_statuses, workspace_fingerprint
from samis.dashboard.paths import PathNotAllowedError, allowed_roots, check_allowed
from samis.datasets import load_dataset, register_dataset
from samis.evaluation import evaluate
from samis.store import import_predictions, write_prediction


# ---- allowed roots ---------------------------------------------------------------------------------
def test_allowed_roots_default_workspace_first_then_operator_roots(tmp_path):
    ws, extra, more = tmp_path / "ws", tmp_path / "extra", tmp_path / "more"
    environ = {"SAMIS_WORKSPACE": str(ws), "SAMIS_ALLOWED_ROOTS": f"{extra}{os.pathsep}{os.pathsep}{ws}"}
    roots = allowed_roots([str(more)], environ=environ)
    assert roots == [ws.resolve(), extra.resolve(), more.resolve()]


def test_check_allowed_accepts_inside_and_refuses_outside(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    roots = [root.resolve()]
    assert check_allowed(str(root / "sub" / "x.pth"), roots) == (root / "sub" / "x.pth").resolve()
    assert check_allowed(str(root), roots) == root.resolve()
    for bad in ("/etc/passwd", str(root / ".." / "elsewhere"), str(tmp_path / "root-sibling"), ""):
        with pytest.raises(PathNotAllowedError):
            check_allowed(bad, roots, "checkpoint")


def test_check_allowed_refuses_an_unusable_path_in_one_line(tmp_path):
    roots = [tmp_path.resolve()]
    with pytest.raises(PathNotAllowedError) as caught:
        check_allowed("a\x00b", roots, "workspace")
    assert str(caught.value) == "workspace 'a\\x00b' is not a usable path (embedded null byte)"
    with pytest.raises(PathNotAllowedError) as caught:  # outside, and very long: the message is cut
        check_allowed("/elsewhere/" + "b" * 5000, roots, "workspace")
    assert "is outside the allowed folders" in str(caught.value) and len(str(caught.value)) < 500


def test_check_allowed_follows_symlinks_out_of_the_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    with pytest.raises(PathNotAllowedError, match="outside the allowed folders"):
        check_allowed(str(root / "escape" / "passwd"), [root.resolve()], "prediction folder")


# ---- colours -----------------------------------------------------------------------------------------
def test_method_colours_are_fixed_distinct_and_independent_of_order():
    methods = ["MCITF", "FT", "HC", "ft", "hc", "sam-vit_h+oracle", "SAM", "otsu", "mbd", "sr", "BC", "DSC"]
    colors = method_colors(methods)
    assert set(colors) == set(methods)
    assert len(set(colors.values())) == len(methods)
    assert all(c in PALETTE for c in colors.values())
    assert method_colors(reversed(methods)) == colors
    assert method_colors(methods + methods) == colors


def test_method_colours_beyond_the_palette_still_assign_every_method():
    many = [f"m{i}" for i in range(len(PALETTE) + 5)]
    colors = method_colors(many)
    assert len(colors) == len(many)
    assert len(set(colors.values())) == len(PALETTE)


# ---- coverage and fingerprint -----------------------------------------------------------------------------
@pytest.fixture
def study(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=6)
    register_dataset(workspace, "toy", root, "folder")
    dataset = load_dataset(workspace, "toy")
    import_predictions(workspace, dataset, "good", predictions["good"])
    for sample in dataset.samples[:2]:
        write_prediction(workspace, "toy", "half", sample.id, sample.read_gt())
    return workspace, dataset


def test_coverage_counts_maps_and_scored_images(study):
    workspace, dataset = study
    cells = {c.method: c for c in coverage(workspace)}
    assert (cells["good"].maps, cells["good"].images, cells["good"].status, cells["good"].scored) == (6, 6, "complete", 0)
    assert (cells["half"].maps, cells["half"].status) == (2, "partial")
    evaluate(workspace, dataset, methods=["good", "half"], allow_missing=True)
    cells = {c.method: c for c in coverage(workspace)}
    assert cells["good"].scored == 6 and cells["half"].scored == 2
    matrix = coverage_matrix(list(cells.values()))
    assert matrix.loc["good", "toy"] == "6/6 complete, scored 6"
    assert matrix.loc["half", "toy"] == "2/6 partial, scored 2"


def test_dataset_status_reports_a_folder_that_is_gone(study):
    workspace, dataset = study
    import shutil

    shutil.rmtree(dataset.root)
    statuses = dataset_statuses(workspace)
    assert statuses[0].images is None and "no longer exists" in statuses[0].error
    assert coverage(workspace)[0].status == "dataset unavailable"


def test_fingerprint_changes_with_content_not_with_evaluation(study):
    workspace, dataset = study
    before = workspace_fingerprint(workspace, "toy")
    assert workspace_fingerprint(workspace, "toy") == before
    evaluate(workspace, dataset, methods=["good"])
    assert workspace_fingerprint(workspace, "toy") == before  # results are derived, not content
    write_prediction(workspace, "toy", "half", dataset.samples[3].id, np.ones((48, 64), bool))
    after = workspace_fingerprint(workspace, "toy")
    assert after != before
    write_prediction(workspace, "toy", "new", dataset.samples[0].id, np.ones((48, 64), bool))
    assert workspace_fingerprint(workspace, "toy") != after


# ---- one cache of loaded SAM models ----------------------------------------------------------------
def test_dashboard_loaded_model_lives_in_the_servers_one_model_cache():
    from samis.dashboard import data
    from samis.sam.model_cache import ModelCache

    cache = data.model_cache()
    assert isinstance(cache, ModelCache) and data.model_cache() is cache  # st.cache_resource: one per server
    with pytest.raises(RuntimeError, match="model_cache"):
        data.loaded_model("tiny", None, "cpu")  # outside a page run's lease: refused, not cached elsewhere
    with cache.using():
        loaded = data.loaded_model("tiny", None, "cpu")
        assert data.loaded_model("tiny", None, "cpu") is loaded
    assert ("tiny", "None", "cpu") in cache
    cache.clear()  # nothing leased any more: the cache frees it
    with cache.using():
        assert data.loaded_model("tiny", None, "cpu") is not loaded


def test_palette_colours_are_far_apart_and_visible_on_white():
    """Issue 20, item 7: every pair at least 20 apart in CIEDE2000 (Sharma et al. 2005, written out in
    tests/ciede2000.py; skimage only cross-checks it), lightness that shows on white."""
    import itertools

    from skimage.color import deltaE_ciede2000

    from ciede2000 import hex_distance, hex_to_lab

    assert len(PALETTE) >= 20 and len(set(PALETTE)) == len(PALETTE)
    distances = {(a, b): hex_distance(a, b) for a, b in itertools.combinations(PALETTE, 2)}
    closest = min(distances, key=distances.get)
    assert distances[closest] >= 20, f"{closest} are {distances[closest]:.1f} apart"
    a, b = closest
    assert abs(deltaE_ciede2000(np.array(hex_to_lab(a)), np.array(hex_to_lab(b))) - distances[closest]) < 1e-6
    assert all(30 <= hex_to_lab(c)[0] <= 82 for c in PALETTE)


def test_a_twelve_method_page_shows_twelve_clearly_different_colours():
    """The issue's page: SD-saliency-900's 12 published maps (BC and MCITF were both blue, MIL and WMR cyan,
    FT and SMD red); the colours are chosen among every method the workspace knows, as the sidebar does."""
    import itertools

    from ciede2000 import hex_distance

    shown = ["2LSG", "BC", "DSC", "FT", "HC", "JUD", "MCITF", "MIL", "RCRR", "SLSM", "SMD", "WMR"]
    known = [*shown, "ft", "sr", "hc", "mbd", "otsu", "SAM", "sam-tiny+best-single"]
    colors = method_colors(known)
    pairs = {(a, b): hex_distance(colors[a], colors[b]) for a, b in itertools.combinations(shown, 2)}
    closest = min(pairs, key=pairs.get)
    assert pairs[closest] >= 20, f"{closest}: {colors[closest[0]]} and {colors[closest[1]]}, {pairs[closest]:.1f} apart"


def test_twenty_methods_get_twenty_colours():
    # twenty methods (five of them SAM variants, as a study has) all get different colours
    methods = [f"sam-vit_h+{s}" for s in ("oracle", "best-single", "inside-gt", "small-union", "contrast")]
    methods += ["ft", "sr", "hc", "mbd", "otsu", "2LSG", "BC", "DSC", "FT", "HC", "JUD", "MCITF", "MIL", "RCRR", "SLSM"]
    assert len(set(method_colors(methods).values())) == 20
