"""samis dashboard: ``streamlit run streamlit_app.py``.

The entry script sets the page up, draws the sidebar every page shares (workspace, dataset, split,
methods; bound to the URL so any view is a shareable link) and runs the chosen page from ``pages/``.
Pages only call the library (``samis``) and show its results.

A folder named ``pages/`` would put Streamlit in its old multipage mode for the first session after
a server start; :mod:`samis.dashboard.streamlit_compat` says how samis leaves it, so the first link a
colleague opens shows the right page with the seven pages in the navigation.
"""

from pathlib import Path

import streamlit as st

from samis.dashboard import state
from samis.dashboard.access import read_only
from samis.dashboard.sidebar import read_only_banner, read_only_page, shared_sidebar
from samis.dashboard.streamlit_compat import leave_old_multipage_mode

HERE = Path(__file__).resolve().parent

leave_old_multipage_mode()

st.set_page_config(page_title="samis — SAM on industrial surface defects", page_icon=":material/search:", layout="wide")

OVERVIEW = st.Page(HERE / "pages" / "overview.py", title="Overview", icon=":material/home:", url_path="overview")
READ_ONLY = read_only()
#: pages that change the workspace: on a read-only server their address shows why they are not there
WRITE_PAGES = {"run": "Run"}
PAGES = [
    # "/" is a hidden page that opens the Overview at its own address (/overview), so every page has one
    HOME := st.Page(lambda: None, title="samis", url_path="home", default=True, visibility="hidden"),
    OVERVIEW,
    *([] if READ_ONLY else [st.Page(HERE / "pages" / "run.py", title="Run", icon=":material/play_arrow:",
                                    url_path="run")]),  # a read-only server runs nothing
    # ... and a link to it says so instead of silently opening the Overview
    *([st.Page(read_only_page(title), title=title, url_path=path, visibility="hidden")
       for path, title in WRITE_PAGES.items()] if READ_ONLY else []),
    st.Page(HERE / "pages" / "compare.py", title="Compare", icon=":material/table_chart:", url_path="compare"),
    st.Page(HERE / "pages" / "speed.py", title="Speed", icon=":material/speed:", url_path="speed"),
    st.Page(HERE / "pages" / "gallery.py", title="Gallery", icon=":material/grid_view:", url_path="gallery"),
    st.Page(HERE / "pages" / "cases.py", title="Cases", icon=":material/search:", url_path="cases"),
    st.Page(HERE / "pages" / "masks.py", title="Masks", icon=":material/layers:", url_path="masks"),
    st.Page(HERE / "pages" / "prompts.py", title="Prompts", icon=":material/ads_click:", url_path="prompts"),
    st.Page(HERE / "pages" / "good_parts.py", title="Good parts", icon=":material/verified:", url_path="good_parts"),
    st.Page(HERE / "pages" / "inspection.py", title="Inspection", icon=":material/troubleshoot:", url_path="inspection"),
]

page = st.navigation(PAGES)
if page is HOME:
    st.switch_page(OVERVIEW, query_params=st.query_params.to_dict())  # the link's parameters come along
state.begin_run()
try:
    read_only_banner()
    shared_sidebar()
    page.run()
finally:
    # also when a page stops early (st.stop): the URL must still describe what is shown
    state.finish_run()
