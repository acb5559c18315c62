"""Fixtures of the browser tests: a Streamlit server on a generated study, headless Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import helpers  # noqa: E402  (a plain module beside this file, also used by benchmarks/)


def pytest_collection_modifyitems(items):
    reason = helpers.missing_browser()
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.slow)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def dashboard_workspace(make_study):
    """A small study: dataset `toy` with two imported methods and the test-size SAM's oracle maps."""
    return make_study(8)


@pytest.fixture
def server(dashboard_workspace):
    with helpers.streamlit_server(dashboard_workspace.root) as (url, _process):
        yield url


@pytest.fixture
def browser(tmp_path):
    driver = helpers.chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()
