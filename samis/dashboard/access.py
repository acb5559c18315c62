"""Read-only mode for shared servers: serve results, change nothing.

``SAMIS_READ_ONLY=1`` (also ``true``, ``yes``, ``on``) or ``read_only = true`` under ``[samis]`` in
``.streamlit/secrets.toml`` turns it on. Then the Run page leaves the navigation, the workspace field
is gone (a link naming another workspace is refused with a notice), and no control writes to the
workspace or starts a model (Speed's Measure, imports, the demo build). Scores are still computed and
cached when a page needs them: that is reading the results, not changing them.
"""

from __future__ import annotations

import os

import streamlit as st

READ_ONLY_VARIABLE = "SAMIS_READ_ONLY"
_TRUE = {"1", "true", "yes", "on"}


def _is_true(value) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def read_only(environ: dict | None = None) -> bool:
    """True when this server serves results only (environment variable, else Streamlit secrets)."""
    environ = os.environ if environ is None else environ
    if _is_true(environ.get(READ_ONLY_VARIABLE, "")):
        return True
    try:
        return _is_true(st.secrets.get("samis", {}).get("read_only", False))
    except Exception:  # noqa: BLE001 - no secrets file is the usual case
        return False


REVIEW_VARIABLE = "SAMIS_REVIEW_ON_READ_ONLY"


def review_on_read_only(environ: dict | None = None) -> bool:
    """True when the operator lets a read-only server take tags and notes (then only the review store is
    written): ``SAMIS_REVIEW_ON_READ_ONLY=1``, else ``review_on_read_only = true`` under ``[samis]`` in secrets."""
    environ = os.environ if environ is None else environ
    if _is_true(environ.get(REVIEW_VARIABLE, "")):
        return True
    try:
        return _is_true(st.secrets.get("samis", {}).get("review_on_read_only", False))
    except Exception:  # noqa: BLE001 - no secrets file is the usual case
        return False
