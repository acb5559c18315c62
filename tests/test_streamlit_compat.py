"""The Streamlit internals samis relies on (samis/dashboard/streamlit_compat.py) are still there.

Each test names one assumption; a Streamlit upgrade that breaks it fails here instead of quietly
bringing back the "page not found" dialog or the file-name navigation.
"""

import inspect

import streamlit
from streamlit.runtime import pages_manager
from streamlit.runtime.scriptrunner import script_runner

from samis.dashboard.streamlit_compat import use_st_navigation_only


def test_pages_manager_decides_the_old_multipage_mode_by_a_class_flag():
    assert "uses_pages_directory" in vars(pages_manager.PagesManager)
    # the flag is only computed when nobody has set it: setting it first is what keeps old mode off
    source = inspect.getsource(pages_manager.PagesManager.__init__)
    assert "if PagesManager.uses_pages_directory is None" in source


def test_script_runner_reads_the_flag_on_every_run():
    assert "PagesManager.uses_pages_directory" in inspect.getsource(script_runner)


def test_use_st_navigation_only_switches_the_flag_off():
    saved = pages_manager.PagesManager.uses_pages_directory
    try:
        pages_manager.PagesManager.uses_pages_directory = True
        use_st_navigation_only()
        assert pages_manager.PagesManager.uses_pages_directory is False
    finally:
        pages_manager.PagesManager.uses_pages_directory = saved


def test_query_params_api_used_by_the_url_binding():
    params = streamlit.query_params
    for name in ("get_all", "from_dict", "keys"):
        assert callable(getattr(params, name)), name
