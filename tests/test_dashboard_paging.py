"""Cases pages through a large split (never one widget of every image); the page is in the URL."""

from __future__ import annotations

import pandas as pd
import pytest

from samis.datasets import register_dataset
from samis.store import import_predictions
from tests.test_dashboard import assert_clean, open_page, texts

ROWS = 500  # pages/cases.py PAGE_ROWS


@pytest.fixture
def large(workspace, make_folder_dataset):
    """Dataset `toy` with 530 small images and methods good and weak."""
    root, predictions = make_folder_dataset(n=ROWS + 30, shape=(12, 16))
    dataset = register_dataset(workspace, "toy", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    return workspace


def test_cases_shows_one_page_of_rows_and_the_link_opens_the_second(large):
    at = open_page("cases", {"method_a": "good"})
    assert_clean(at)
    first = at.dataframe[0].value
    assert len(first) == ROWS
    assert any(f"{ROWS + 30} of {ROWS + 30} images" in c for c in texts(at.caption))
    assert any(f"rows 1–{ROWS} of {ROWS + 30}" in c for c in texts(at.caption))
    at.number_input(key="cases_page").set_value(2).run()
    assert_clean(at)
    second = at.dataframe[0].value
    assert len(second) == 30 and at.query_params["page"] in ("2", ["2"])
    assert not set(first["image"]) & set(second["image"])  # the pages split the sorted rows
    # one order of method A's values across the page boundary
    both = pd.concat([first["good"], second["good"]], ignore_index=True)
    assert both.is_monotonic_increasing or both.is_monotonic_decreasing
    again = open_page("cases", {"method_a": "good", "page": "2"})
    assert_clean(again)
    assert list(again.dataframe[0].value["image"]) == list(second["image"])


def test_a_filter_that_leaves_fewer_rows_than_the_page_needs_no_pager(large):
    at = open_page("cases", {"method_a": "good", "page": "2"})
    at.selectbox(key="cases_filter").select("worst").run()
    at.number_input(key="cases_n").set_value(10).run()
    assert_clean(at)
    assert len(at.dataframe[0].value) == 10
    assert "page" not in at.query_params


def test_gallery_offers_a_bounded_id_list_and_still_opens_a_linked_image_beyond_it(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=2010, shape=(8, 8))
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "good", predictions["good"])
    at = open_page("gallery", {"images_by": "chosen", "images": "img_995,img_001"})
    assert_clean(at)
    chooser = at.multiselect(key="gal_images")
    assert len(chooser.options) == 2001  # the first 2,000 ids (in id order: img_990…img_999 come last) and the one the link names beyond them
    assert sorted(chooser.value) == ["img_001", "img_995"]
    assert any("2 images × 1 methods" in c for c in texts(at.caption))
