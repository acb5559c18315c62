"""samis dashboard: ``streamlit run streamlit_app.py``.

The entry script sets the page up, draws the sidebar every page shares (workspace, dataset, split,
methods; bound to the URL so any view is a shareable link) and runs the chosen page from ``pages/``.
Pages only call the library (``samis``) and show its results.

Streamlit 1.67 still treats a folder named ``pages/`` next to the entry script as an old-style
multipage app: each run first goes through an automatic navigation over the files of ``pages/``,
which answers "page not found" for ``/compare`` (it only knows the file names) before this script's
``st.navigation`` runs the right page. Two measures keep that away:

- page files are named ``<name>_page.py`` while their URLs are ``/<name>``, so the automatic
  navigation never runs a page file on its own, without this script and its shared sidebar;
- this script switches the process-wide flag that selects the old mode off on its first run
  (``_use_st_navigation_only``); only the very first run after a server start still passes through it.
"""

from pathlib import Path

import streamlit as st

from samis.dashboard import state
from samis.dashboard.sidebar import shared_sidebar

HERE = Path(__file__).resolve().parent


def _use_st_navigation_only() -> None:
    """Tell Streamlit this app navigates with ``st.navigation`` only (see the module docstring)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except (ImportError, AttributeError):  # another Streamlit version: nothing to switch off
        pass


_use_st_navigation_only()

st.set_page_config(page_title="samis — SAM on industrial surface defects", page_icon=":material/search:", layout="wide")

PAGES = [
    st.Page(HERE / "pages" / "overview_page.py", title="Overview", icon=":material/home:", url_path="overview", default=True),
    st.Page(HERE / "pages" / "run_page.py", title="Run", icon=":material/play_arrow:", url_path="run"),
    st.Page(HERE / "pages" / "compare_page.py", title="Compare", icon=":material/table_chart:", url_path="compare"),
    st.Page(HERE / "pages" / "speed_page.py", title="Speed", icon=":material/speed:", url_path="speed"),
    st.Page(HERE / "pages" / "gallery_page.py", title="Gallery", icon=":material/grid_view:", url_path="gallery"),
    st.Page(HERE / "pages" / "cases_page.py", title="Cases", icon=":material/search:", url_path="cases"),
]

page = st.navigation(PAGES)
state.begin_run()
try:
    shared_sidebar()
    page.run()
finally:
    # also when a page stops early (st.stop): the URL must still describe what is shown
    state.finish_run()
