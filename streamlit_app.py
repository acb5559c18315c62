"""samis dashboard: ``streamlit run streamlit_app.py``.

The entry script sets the page up, draws the sidebar every page shares (workspace, dataset, split,
methods; bound to the URL so any view is a shareable link) and runs the chosen page from ``pages/``.
Pages only call the library (``samis``) and show its results.

The folder ``pages/`` would make Streamlit run in its old multipage mode; page files are named
``<name>_page.py`` (URLs ``/<name>``) so that mode never runs one on its own, and
:mod:`samis.dashboard.streamlit_compat` switches the mode off.
"""

from pathlib import Path

import streamlit as st

from samis.dashboard import state
from samis.dashboard.sidebar import shared_sidebar
from samis.dashboard.streamlit_compat import use_st_navigation_only

HERE = Path(__file__).resolve().parent

use_st_navigation_only()

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
