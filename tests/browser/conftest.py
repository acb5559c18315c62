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


@pytest.fixture(scope="session")
def server(tmp_path_factory, study_builder, tiny_sam_oracle_maps):
    """One server for the whole session on a study like ``dashboard_workspace``'s (8 images, good, weak and the
    oracle maps): for the tests that browse it and make no claim about a freshly started server."""
    from samis.workspace import Workspace

    base = tmp_path_factory.mktemp("dashboard")
    workspace = study_builder(Workspace(base / "workspace"), base, 8, tiny_sam_oracle_maps(8))
    with helpers.streamlit_server(workspace.root) as (url, _process):
        yield url


@pytest.fixture
def browser(tmp_path):
    driver = helpers.chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()
