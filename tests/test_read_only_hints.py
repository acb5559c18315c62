"""A read-only server hides the Run page and the "Add a dataset" help: no hint may send a reader there."""

from __future__ import annotations

import pytest

from samis.dashboard import hints
from tests.test_dashboard import assert_clean, open_page, texts


def _shown(at) -> str:
    return " ".join(texts(at.info) + texts(at.warning) + texts(at.caption) + [str(m.value) for m in at.markdown])


def test_read_only_overview_of_an_empty_workspace_says_what_a_reader_can_do(workspace, monkeypatch):
    monkeypatch.setenv("SAMIS_READ_ONLY", "1")
    at = open_page("overview")
    assert_clean(at)
    shown = _shown(at)
    assert "No dataset is registered" in shown and "operator" in shown
    assert "**Run**" not in shown and "Add a dataset or predictions** below" not in shown
    assert at.dataframe, "the paper's tables the hint points to are there"


@pytest.mark.parametrize("read_only", [True, False])
def test_every_hint_mentions_the_run_page_only_where_it_exists(read_only):
    said = [hints.no_dataset(read_only), hints.no_dataset_here(read_only), hints.no_predictions(read_only),
            hints.no_predictions(read_only, "toy"), hints.no_masks(read_only, "toy", "python -m samis sam toy")]
    if read_only:
        assert not any("**Run**" in line or "below" in line for line in said), said
        assert all("operator" in line for line in said), said
    else:
        assert all("**Run**" in line for line in said[2:]), said  # predictions and masks can be computed there


@pytest.mark.parametrize("page", ["overview", "compare", "speed", "gallery", "cases", "masks", "good_parts"])
def test_a_read_only_banner_on_every_page(make_study, monkeypatch, page):
    """Issue 20, item 10: the banner, not only small grey text."""
    from samis.dashboard.sidebar import READ_ONLY_BANNER

    make_study(6)
    monkeypatch.setenv("SAMIS_READ_ONLY", "1")
    at = open_page(page)
    assert_clean(at)
    assert READ_ONLY_BANNER in texts(at.info)
    monkeypatch.setenv("SAMIS_READ_ONLY", "")
    assert READ_ONLY_BANNER not in texts(open_page(page).info)
