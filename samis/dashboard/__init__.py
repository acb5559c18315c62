"""Helpers shared by the dashboard's pages (``streamlit_app.py`` and ``pages/``).

Nothing here computes a result: these modules bind the sidebar to the URL (:mod:`.state`), keep
typed paths inside the allowed roots (:mod:`.paths`), wrap library calls in Streamlit caches
(:mod:`.data`), give every method one colour (:mod:`.colors`), and show tables and errors the same
way on every page (:mod:`.ui`). :mod:`.paths`, :mod:`.colors` and :mod:`.coverage` do not import
Streamlit, so they are tested as plain functions.
"""
