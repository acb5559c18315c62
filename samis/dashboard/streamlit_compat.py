"""The few places where samis relies on Streamlit internals, kept together.

``tests/test_streamlit_compat.py`` checks each assumption against the installed Streamlit, so an
upgrade that changes one of them fails there, by name, instead of breaking the dashboard quietly.

**Old-style multipage mode.** Streamlit decides once per server, when the first browser connects,
whether the app is an old-style multipage app: it is when a folder named ``pages/`` lies next to the
entry script (``PagesManager.uses_pages_directory``). samis keeps ``pages/`` (the project layout
names it) but navigates with ``st.navigation`` only. In the old mode the first run of the first
session goes through an automatic navigation over the files of ``pages/``, which would show a
"page not found" dialog and file names in the sidebar. So:

- page files are named like their URLs (``pages/compare.py`` is ``/compare``): the automatic
  navigation finds the page a link names and runs that file, never the "not found" path;
- the first thing the entry script and every page do is :func:`leave_old_multipage_mode`: it switches
  the mode off for the whole server and reruns, and ``st.navigation`` then draws the app as it is
  (same page, since a page's identity is the hash of its URL path in both modes);
- a page file that still finds itself run on its own (Streamlit's test harness puts the old mode back
  before every run) runs the entry script instead (:func:`run_entry_script`), which draws the shared
  sidebar and this page through ``st.navigation``.
"""

from __future__ import annotations

import runpy

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


def use_st_navigation_only() -> bool:
    """Tell Streamlit this app navigates with ``st.navigation`` only; True when it was in the old mode."""
    was_old_mode = bool(PagesManager.uses_pages_directory)
    PagesManager.uses_pages_directory = False
    return was_old_mode


_RERUN_DONE = "_samis_left_old_multipage_mode"


def leave_old_multipage_mode() -> None:
    """If this run came through the old multipage mode (the server's first session), switch it off and rerun.

    Call it before anything is drawn. The rerun keeps the URL, its query parameters and the page. It
    happens once per session at most: Streamlit's test harness (AppTest) puts the mode back before
    every run, and a rerun there would swallow a button click.
    """
    if use_st_navigation_only() and not st.session_state.get(_RERUN_DONE):
        st.session_state[_RERUN_DONE] = True
        st.rerun()


def run_entry_script() -> None:
    """Run the app's entry script (``streamlit_app.py``) in this run, then end the run.

    For a page file that Streamlit ran on its own: the entry script draws the shared sidebar and the
    page the URL names through ``st.navigation``, and writes the URL at the end.
    """
    runpy.run_path(str(get_script_run_ctx().pages_manager.main_script_path), run_name="__main__")
    st.stop()
