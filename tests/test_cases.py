"""samis.cases: case filters and gallery picks, without Streamlit."""

import numpy as np
import pandas as pd
import pytest

from samis.cases import (CaseQuery, clamp_range, default_pair, filter_cases, gallery_images, image_values,
                         per_image_tables, value_span)


def _table(values: dict[str, list[float]], classes: list[str]) -> pd.DataFrame:
    ids = [f"im{i}" for i in range(len(classes))]
    frame = pd.DataFrame(values, index=pd.Index(ids, name="image"))
    frame.insert(0, "class", classes)
    return frame


@pytest.fixture
def fw():
    return _table({"sam-vit_h+oracle": [0.9, 0.5, 0.2, np.nan, 0.7],
                   "MCITF": [0.6, 0.55, 0.1, 0.4, 0.2],
                   "ft": [0.3, 0.8, 0.15, 0.2, 0.1]},
                  ["In", "In", "Pa", "Pa", "Sc"])


METHODS = ["sam-vit_h+oracle", "MCITF", "ft"]


def test_all_sorts_best_of_a_first_and_missing_last(fw):
    got = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle"))
    assert got.image_ids == ["im0", "im4", "im1", "im2", "im3"]
    assert got.total == 5 and got.margin_column is None


def test_beats_keeps_margin_and_adds_it(fw):
    got = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", filter="beats", method_b="MCITF", margin=0.1))
    assert got.image_ids == ["im0", "im4", "im2"]  # sorted by A: 0.9, 0.7, 0.2
    assert got.frame.loc["im4", "margin (A − B)"] == pytest.approx(0.5)
    assert "im1" not in got.image_ids  # 0.5 vs 0.55: behind


def test_good_compares_with_the_best_other(fw):
    got = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", filter="good", margin=0.2))
    # im0: 0.9 vs max(0.6, 0.3) = +0.3; im4: 0.7 vs 0.2 = +0.5; im2: 0.2 vs 0.15 = +0.05
    assert got.image_ids == ["im0", "im4"]
    assert got.frame.loc["im0", "margin (A − best other)"] == pytest.approx(0.3)


def test_good_needs_two_methods(fw):
    got = filter_cases(fw, ["ft"], CaseQuery("ft", filter="good"))
    assert got.notes == ["Good cases need at least two methods."]
    assert len(got.frame) == 5


def test_worst_lists_missing_then_lowest(fw):
    got = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", filter="worst", worst_n=3))
    assert got.image_ids == ["im3", "im2", "im1"]


def test_mae_lower_is_better():
    mae = _table({"a": [0.1, 0.3, 0.2], "b": [0.2, 0.1, 0.2]}, ["x", "x", "y"])
    assert filter_cases(mae, ["a", "b"], CaseQuery("a", metric="MAE")).image_ids == ["im0", "im2", "im1"]
    beats = filter_cases(mae, ["a", "b"], CaseQuery("a", metric="MAE", filter="beats", method_b="b", margin=0.05))
    assert beats.image_ids == ["im0"]
    assert beats.frame.loc["im0", "margin (A − B)"] == pytest.approx(0.1)
    assert filter_cases(mae, ["a", "b"], CaseQuery("a", metric="MAE", filter="worst", worst_n=1)).image_ids == ["im1"]


def test_classes_and_range(fw):
    got = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", classes=("In", "Pa")))
    assert got.image_ids == ["im0", "im1", "im2", "im3"]
    ranged = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", value_range=(0.6, 0.4)))
    assert ranged.image_ids == ["im1"]
    everything = filter_cases(fw, METHODS, CaseQuery("sam-vit_h+oracle", value_range=value_span(fw, METHODS)))
    assert len(everything.frame) == 5  # the image without a map is kept when the range spans all


def test_bad_queries_are_refused(fw):
    with pytest.raises(ValueError, match="metric"):
        CaseQuery("ft", metric="nope")
    with pytest.raises(ValueError, match="filter"):
        CaseQuery("ft", filter="nope")
    with pytest.raises(ValueError, match="margin"):
        CaseQuery("ft", margin=float("nan"))
    with pytest.raises(ValueError, match="range"):
        CaseQuery("ft", value_range=(float("nan"), 1.0))
    with pytest.raises(ValueError, match="method B"):
        filter_cases(fw, METHODS, CaseQuery("ft", filter="beats", method_b="other"))


def test_value_span_is_at_least_unit(fw):
    assert value_span(fw, METHODS) == (0.0, 1.0)
    wide = _table({"a": [-0.5, 2.0]}, ["x", "y"])
    assert value_span(wide, ["a"]) == (-0.5, 2.0)


def test_default_pair():
    assert default_pair(["ft", "sam-tiny-random+oracle", "MCITF"]) == ("sam-tiny-random+oracle", "ft")
    assert default_pair(["ft", "MCITF"]) == ("ft", "MCITF")
    assert default_pair(["ft"]) == ("ft", "ft")


def test_per_image_tables_pivot_and_reindex():
    long = pd.DataFrame([
        {"image": "b", "method": "m1", "Sa": 0.5, "MAE": 0.1, "Fw": 0.2, "adpFm": 0, "adpEm": 0, "maxFm": 0,
         "maxEm": 0, "IoU": 0, "Dice": 0},
        {"image": "a", "method": "m2", "Sa": 0.7, "MAE": 0.2, "Fw": 0.3, "adpFm": 0, "adpEm": 0, "maxFm": 0,
         "maxEm": 0, "IoU": 0, "Dice": 0},
    ])
    tables = per_image_tables(long, ["a", "b", "c"], {"a": "X", "b": "Y", "c": "X"}, ["m1", "m2"])
    sa = tables["Sa"]
    assert list(sa.index) == ["a", "b", "c"] and list(sa.columns) == ["class", "m1", "m2"]
    assert sa.loc["b", "m1"] == 0.5 and sa.loc["a", "m2"] == 0.7
    assert np.isnan(sa.loc["c", "m1"]) and sa.loc["c", "class"] == "X"


def test_gallery_first_goes_round_robin_over_classes():
    ids = ["In_1", "In_2", "In_3", "Pa_1", "Sc_1", "Sc_2"]
    classes = {i: i.split("_")[0] for i in ids}
    assert gallery_images(ids, classes, "first", 4) == ["In_1", "Pa_1", "Sc_1", "In_2"]
    assert gallery_images(ids, classes, "first", 100) == ["In_1", "Pa_1", "Sc_1", "In_2", "Sc_2", "In_3"]


def test_gallery_random_is_seeded_and_in_split_order():
    ids = [f"i{k:02d}" for k in range(30)]
    classes = dict.fromkeys(ids, "c")
    first = gallery_images(ids, classes, "random", 5, seed=3)
    assert first == gallery_images(ids, classes, "random", 5, seed=3)
    assert first != gallery_images(ids, classes, "random", 5, seed=4)
    assert first == sorted(first) and len(set(first)) == 5


def test_gallery_chosen_keeps_known_ids_once():
    ids = ["a", "b", "c"]
    assert gallery_images(ids, dict.fromkeys(ids, "x"), "chosen", 3, chosen=["c", "zz", "a", "c"]) == ["c", "a"]
    with pytest.raises(ValueError):
        gallery_images(ids, dict.fromkeys(ids, "x"), "best", 3)


def test_clamp_range():
    assert clamp_range((0.8, 0.2), (0.0, 1.0)) == (0.2, 0.8)
    assert clamp_range((-3, 7), (0.0, 1.0)) == (0.0, 1.0)
    assert clamp_range((float("nan"), 0.5), (0.0, 1.0)) == (0.0, 1.0)
    assert clamp_range("junk", (0.0, 1.0)) == (0.0, 1.0)


def test_image_values(fw):
    values = image_values({"Fw": fw, "Sa": fw}, "im3", METHODS)
    assert list(values.index) == METHODS and list(values.columns) == ["Fw", "Sa"]
    assert np.isnan(values.loc["sam-vit_h+oracle", "Fw"]) and values.loc["MCITF", "Sa"] == 0.4
