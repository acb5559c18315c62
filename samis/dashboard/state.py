"""The view lives in the URL: query parameters ⇄ widget state.

Every value that defines what a page shows (the shared sidebar choices and each page's own
controls) is written to ``st.query_params`` at the end of each run, so the address bar always holds
a link that opens the same view for a colleague. On a fresh session the widgets start from the link.

How it works, per run:

1. ``begin_run()`` (entry script) forgets the parameters declared by the previous run.
2. Before a widget is drawn, :func:`seed` puts its starting value in ``st.session_state``: the value
   kept from earlier in this session (widgets of another page are dropped by Streamlit when you
   change pages, so each bound value is also kept under a private key), else the URL's, else the default.
3. After the widget, :func:`publish` records its value for the URL and keeps it.
4. ``finish_run()`` (entry script, also when the page stops early) writes exactly the declared
   parameters to the URL, so parameters of the page you left do not linger.

Pages use :func:`bind`, which does all three for one widget: it seeds the widget, draws it and
publishes its value, with the default written once. A URL value the page cannot use (an unknown
dataset, method or image) is reported with a notice and replaced by the default; it never raises.

Parameter names read as words (``method_a``, ``gap_method``). Links made before the names changed
still open the same view: :data:`LEGACY_NAMES` maps each old name to its new one, and the URL is
rewritten with the new names after the first run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from samis.counts import COUNTS
from samis.dashboard.text import literal

_DECLARED = "_samis_url_params"
_KEPT = "_samis_kept_"
_SEEDED = "_samis_seeded"

#: old (short) URL parameter name → the name used now; old links keep working
LEGACY_NAMES = {"a": "method_a", "b": "method_b", "x": "margin", "n": "worst_n", "t": "threshold",
                "gap": "gap_method", "gapdef": "gap_definition", "cmetric": "class_metric",
                "smethods": "speed_methods", "acc": "accuracy_table", "ws": "workspace", "pick": "images_by"}
_OLD_NAMES = {new: old for old, new in LEGACY_NAMES.items()}


def begin_run() -> None:
    """Start a run: nothing is declared for the URL yet."""
    st.session_state[_DECLARED] = {}


def url_value(name: str) -> str | None:
    """The URL's value of a parameter (the last one when it is repeated; its old name counts too), or None."""
    values = st.query_params.get_all(name)
    if not values and name in _OLD_NAMES:
        values = st.query_params.get_all(_OLD_NAMES[name])
    return values[-1] if values else None


def url_seeded(name: str) -> bool:
    """Whether this session has already taken ``name`` from the link (a link seeds each control once)."""
    return name in st.session_state.get(_SEEDED, set())


def one_of(text: str, options: Sequence) -> Any:
    """The option a link's text names, or None.

    A ``+`` typed into a link arrives as a space (``sam-tiny-random+oracle`` → ``sam-tiny-random oracle``),
    so a text that is not an option is tried again with its spaces read as ``+``.
    """
    for candidate in (text, text.replace(" ", "+")):
        if candidate in options:
            return candidate
    return None


def split_list(text: str | None) -> list[str]:
    """A comma-separated URL value as a list (empty items dropped)."""
    return [item for item in (text or "").split(",") if item]


def number_in(low: float, high: float, cast: Callable[[str], Any] = float) -> Callable[[str], Any]:
    """A ``parse`` for number widgets: the link's number when it lies in [low, high], else None (rejected).

    NaN, infinities and text are rejected too, so a link can never put a widget out of its range.
    """
    def parse(text: str):
        value = cast(text)
        return value if low <= value <= high else None  # NaN fails both comparisons

    return parse


def range_in(low: float, high: float) -> Callable[[str], Any]:
    """A ``parse`` for range sliders: ``"a~b"`` → (a, b) in order and clamped to [low, high]; None if not two numbers."""
    def parse(text: str):
        parts = text.split("~")
        if len(parts) != 2:
            return None
        a, b = sorted(float(p) for p in parts)
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        return min(max(a, low), high), min(max(b, low), high)

    return parse


def seed(key: str, default: Any, url_name: str | None = None,
         parse: Callable[[str], Any] | None = None) -> tuple[Any, str | None]:
    """Put a widget's starting value in ``st.session_state[key]`` unless the widget already has one.

    Args:
        key: the widget key.
        default: value used when neither the session nor the URL has one.
        url_name: query parameter bound to the widget (None: not bound).
        parse: turns the URL text into a widget value; returns None (or raises ValueError) for a
            value the page cannot use.

    Returns:
        (the value now in the session, the rejected URL text or None): the caller tells the user
        about a rejected value.
    """
    if key in st.session_state:
        return st.session_state[key], None
    kept = _KEPT + key
    if kept in st.session_state:
        st.session_state[key] = st.session_state[kept]
        return st.session_state[key], None
    rejected = None
    value = default
    seeded = st.session_state.setdefault(_SEEDED, set())
    if url_name and url_name not in seeded:
        # the URL seeds a widget once per session; later the session's own value wins
        seeded.add(url_name)
        text = url_value(url_name)
        if text is not None:
            try:
                parsed = parse(text) if parse else text
            except (ValueError, TypeError):
                parsed = None
            if parsed is None:
                rejected = text
            else:
                value = parsed
    st.session_state[key] = value
    return value, rejected


def publish(key: str, url_name: str | None = None, dump: Callable[[Any], str | None] | None = None,
            default: Any = None) -> Any:
    """Record a widget's value for the URL (left out when it equals ``default``) and keep it.

    Returns:
        the widget's current value.
    """
    value = st.session_state.get(key)
    st.session_state[_KEPT + key] = value
    if url_name:
        text = None if value is None or value == default else (dump(value) if dump else str(value))
        declare(url_name, text)
    return value


def declare(url_name: str, text: str | None) -> None:
    """Put one parameter in the URL written at the end of this run (None or "" leaves it out)."""
    declared = st.session_state.setdefault(_DECLARED, {})
    if text:
        declared[url_name] = text
    else:
        declared.pop(url_name, None)


def finish_run() -> None:
    """Write the declared parameters to the URL, replacing what was there."""
    declared = st.session_state.get(_DECLARED, {})
    current = {name: url_value(name) for name in st.query_params.keys()}
    if current != declared:
        st.query_params.from_dict(declared)


@dataclass(frozen=True)
class UrlParam:
    """How a widget's value travels in the link (see :func:`bind`).

    Attributes:
        name: the URL parameter (None: kept in the session only).
        parse: link text → value; returns None or raises ValueError for a value the page cannot use.
            Default: the text itself, checked against the widget's ``options`` (a comma list for ``multiselect``).
        dump: value → link text (default ``str``; ``",".join`` for ``multiselect``).
        rejected: called with an unusable link value (default: a notice naming it and the default).
        always: put the value in the URL even when it is the default (a link names its dataset).
    """

    name: str | None
    parse: Callable[[str], Any] | None = None
    dump: Callable[[Any], str | None] | None = None
    rejected: Callable[[str], None] | None = None
    always: bool = False


def flag(name: str) -> UrlParam:
    """A yes/no value in the link: ``name=1`` when on, left out when off."""
    return UrlParam(name, parse=lambda t: t == "1", dump=lambda v: "1" if v else None)


def bind(widget: Callable[..., Any], label: str, *, key: str, url: str | UrlParam | None = None, default: Any = None,
         options: Sequence | None = None, **widget_args) -> Any:
    """Draw a widget bound to a URL parameter and return its value.

    The widget starts from the value kept in this session, else the link's, else ``default``; after
    it is drawn, its value goes into the URL (left out when it equals ``default``).

    Args:
        widget: a Streamlit widget function (``st.selectbox``, ``st.sidebar.multiselect``, a column's
            ``slider`` …).
        label: the widget's label.
        key: the widget key.
        url: the URL parameter's name, or a :class:`UrlParam` saying how the value is read from and written to
            the link (None: kept in the session only).
        default: the value when neither the session nor the link gives one.
        options: the choices of a choice widget (passed as its second argument); a kept value that is
            no longer among them is dropped, and a link's value must be one of them.
        **widget_args: passed to the widget.

    Returns:
        the widget's value (``default`` when a choice widget holds none).
    """
    link = url if isinstance(url, UrlParam) else UrlParam(url)
    url, parse, dump = link.name, link.parse, link.dump
    multi = getattr(widget, "__name__", "") == "multiselect"
    if options is not None:
        options = list(options)
        kept = st.session_state.get(key, st.session_state.get(_KEPT + key))
        if kept is not None and not _within(kept, options, multi):
            forget(key)
        if parse is None:
            parse = (lambda t: [v for v in (one_of(x, options) for x in split_list(t)) if v is not None] or None) \
                if multi else (lambda t: one_of(t, options))
    if multi and dump is None:
        dump = ",".join
    _, bad = seed(key, default, url, parse=parse)
    if bad is not None:
        if link.rejected is not None:
            link.rejected(bad)
        else:
            st.info(f"The link's {literal(f'{url}={bad!r}')} cannot be used here; showing {literal(repr(default))}.")
    if options is not None:
        widget(label, options, key=key, **widget_args)
    else:
        widget(label, key=key, **widget_args)
    value = publish(key, url, dump=dump, default=None if link.always else default)
    return default if value is None and options is not None and not multi else value


def _within(value: Any, options: list, multi: bool) -> bool:
    if multi:
        return isinstance(value, (list, tuple)) and all(v in options for v in value)
    return value in options


def forget(key: str) -> None:
    """Drop a widget's value and its kept copy (e.g. when its options changed)."""
    st.session_state.pop(key, None)
    st.session_state.pop(_KEPT + key, None)


def stop() -> None:
    """Write the URL, then end the page (``st.stop``).

    After ``st.stop()`` Streamlit refuses every further call in the run, so the URL must be written first.
    """
    finish_run()
    st.stop()


def view_link(url_path: str) -> str:
    """The link that opens this view again: the page's address with the parameters declared so far in this run.

    The address bar gets the same parameters only when the run ends (:func:`finish_run`), so a
    page asks for its link after its last control. ``st.context.url`` (scheme, host, port, path; no
    query) is None outside a browser session; then the link is relative (``/compare?…``).
    """
    declared = st.session_state.get(_DECLARED, {})
    base = st.context.url or f"/{url_path}"
    query = urlencode(declared, safe=",:~")
    return base + (f"?{query}" if query else "")


def count_input(column, label: str, count: str, *, key: str, url: str, default: int) -> int:
    """A number input of a declared count (:data:`samis.counts.COUNTS`), bound to a URL parameter: the control
    and the link accept the same range as the CLI flag and the library."""
    bound = COUNTS[count]
    value = bind(column.number_input, label, key=key, url=UrlParam(url, parse=number_in(bound.low, bound.high, int)),
                 default=default, min_value=bound.low, max_value=bound.high, step=1,
                 help=f"{bound.low} to {bound.high} ({bound.why})")
    return int(value)
