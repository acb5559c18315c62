"""Helpers shared by the dashboard's pages (``streamlit_app.py`` and ``pages/``).

Nothing here computes a result: these modules bind the sidebar to the URL (:mod:`.state`), keep
typed paths inside the allowed roots (:mod:`.paths`), wrap library calls in Streamlit caches
(:mod:`.data`), and show tables and errors the same way on every page (:mod:`.ui`). Method colours
live below, in :mod:`samis.colors`, because the HTML report uses them too. :mod:`.paths`, :mod:`.text`
and :mod:`.coverage` do not import Streamlit, so they are tested as plain functions.
"""
