"""The few places where samis relies on Streamlit internals, kept together.

``tests/test_streamlit_compat.py`` checks each assumption against the installed Streamlit, so an
upgrade that changes one of them fails there, by name, instead of breaking the dashboard quietly.

- **Old-style multipage mode.** Streamlit treats a folder named ``pages/`` next to the entry script
  as an old-style multipage app (``PagesManager.uses_pages_directory``): each run then goes through
  an automatic navigation over the files of ``pages/``, which only knows file names and answers
  "page not found" for ``/compare``. samis navigates with ``st.navigation`` only, and keeps the
  ``pages/`` folder the project layout names; :func:`use_st_navigation_only` switches the flag off.
"""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager


def use_st_navigation_only() -> None:
    """Tell Streamlit this app navigates with ``st.navigation`` only (see the module docstring)."""
    PagesManager.uses_pages_directory = False
