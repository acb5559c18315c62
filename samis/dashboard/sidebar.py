"""The sidebar every page shares: workspace, dataset, split and methods, bound to the URL.

``shared_sidebar()`` draws the choices and returns a :class:`Context` the page reads. It never
raises: an unusable workspace path, a dataset folder that is gone or a link naming an unknown
dataset or method shows a message and leaves the matching field of the context empty, and pages
stop with :meth:`Context.require`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from samis.datasets import Dataset, split_names
from samis.demo import ensure_demo
from samis.errors import SamisError
from samis.methods import random_weight_methods
from samis.workspace import Workspace

from samis.dashboard import data, hints, state, ui
from samis.dashboard.access import read_only

#: the Overview page's file, for links from pages made in code
OVERVIEW_PATH = "pages/overview.py"
from samis.colors import method_colors, workspace_methods
from samis.dashboard.ui import error as ui_error
from samis.dashboard.ui import literal
from samis.dashboard.paths import allowed_roots, check_allowed
from samis.dashboard.streamlit_compat import leave_old_multipage_mode, run_entry_script

_CONTEXT = "_samis_context"
_FRESH = "_samis_context_fresh"


@dataclass
class Context:
    """What the sidebar chose, for the page to show."""

    roots: list[Path]
    read_only: bool = False  # a shared server that serves results only (samis.dashboard.access)
    workspace: Workspace | None = None
    datasets: dict = field(default_factory=dict)  # id → DatasetEntry
    dataset_id: str | None = None
    dataset: Dataset | None = None
    split: str = "all"
    methods: list[str] = field(default_factory=list)  # selected
    all_methods: list[str] = field(default_factory=list)  # every method with maps on the dataset
    fingerprint: str = ""
    colors: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return str(self.workspace.root) if self.workspace else ""

    def scope(self, methods=None) -> data.Scope:
        """The cache key of this context's scores: its dataset and split, ``methods`` (default: the selected ones)."""
        chosen = self.methods if methods is None else methods
        return data.Scope(self.root, self.dataset_id, self.split, tuple(chosen), self.fingerprint)

    def require(self, dataset: bool = True, methods: bool = False) -> None:
        """Stop the page (after the sidebar has said why) when what it needs is missing."""
        if self.workspace is None:
            state.stop()
        if dataset and self.dataset is None:
            if not self.datasets:
                st.info(hints.no_dataset_here(self.read_only))
            state.stop()
        if methods and not self.methods:
            if self.all_methods:
                st.info("Choose at least one method in the sidebar.")
            else:
                st.info(hints.no_predictions(self.read_only, self.dataset_id))
            state.stop()


def _operator_roots() -> list[str]:
    """Roots listed in ``.streamlit/secrets.toml`` under ``[samis] allowed_roots``."""
    try:
        listed = st.secrets.get("samis", {}).get("allowed_roots", [])
    except Exception:  # noqa: BLE001 - no secrets file is the usual case
        return []
    return [str(p) for p in listed] if isinstance(listed, (list, tuple)) else [str(listed)]


def _maybe_demo(workspace: Workspace, is_default: bool) -> None:
    """Fill an empty default workspace with the demo dataset so a fresh clone shows real content."""
    if not is_default:
        if not st.sidebar.button("Create the demo dataset here", help="generates ~60 synthetic images and five baselines"):
            return
    with st.status("First start: generating the demo dataset and computing five baselines…", expanded=True) as box:
        try:
            made = ensure_demo(workspace, progress=ui.Progress())
        except SamisError as error:
            box.update(label=f"could not create the demo: {literal(error)}", state="error")
            return
        box.update(label="demo dataset ready" if made else "workspace already has data", state="complete", expanded=False)


def shared_sidebar() -> Context:
    """Draw the shared sidebar and return the chosen context (also stored for the page)."""
    roots = allowed_roots(_operator_roots())
    ctx = Context(roots=roots, read_only=read_only())
    if _choose_workspace(ctx) and _choose_dataset(ctx):
        _choose_split(ctx)
        _choose_methods(ctx)
        ctx.colors = method_colors(_every_method(ctx))
    _store(ctx)
    return ctx


def _choose_workspace(ctx: Context) -> bool:
    """The workspace and its registered datasets; False (said why) when there is no dataset to choose."""
    roots = ctx.roots
    default_root = str(roots[0])
    bar = st.sidebar
    if ctx.read_only:
        typed = default_root
        asked = state.url_value("workspace")
        if asked is not None and asked != default_root:
            ui.notice(f"This server is read-only and serves one workspace: the link's workspace "
                      f"{literal(repr(asked))} is not opened.")
    else:
        typed = state.bind(bar.text_input, "Workspace", key="ws", url="workspace", default=default_root,
                           help="a folder inside the allowed roots: " + ", ".join(str(r) for r in roots))
    try:
        path = check_allowed(typed, roots, "workspace")
        ctx.workspace = Workspace(path)
        ctx.datasets = ctx.workspace.registered_datasets()
    except SamisError as error:
        ui_error(error)
        return False
    if not ctx.datasets and not ctx.read_only:
        _maybe_demo(ctx.workspace, is_default=path == roots[0])
        try:
            ctx.datasets = ctx.workspace.registered_datasets()
        except SamisError as error:
            ui_error(error)
    if not ctx.datasets:
        bar.info("No dataset registered in this workspace.")
        return False
    return True


def _choose_dataset(ctx: Context) -> bool:
    """The dataset (loaded) and its fingerprint; False (said why) when it cannot be opened."""
    ids = list(ctx.datasets)
    ctx.dataset_id = state.bind(
        st.sidebar.selectbox, "Dataset", key="dataset", default=ids[0], options=ids,
        url=state.UrlParam("dataset", always=True, rejected=lambda bad: st.warning(
            f"The link names dataset {literal(repr(bad))}, which is not registered in this workspace "
            f"(registered: {', '.join(literal(i) for i in ids)}); showing {literal(repr(ids[0]))}.")))
    ctx.fingerprint = data.fingerprint(ctx.root, ctx.dataset_id)
    try:
        ctx.dataset = data.dataset(ctx.root, ctx.dataset_id, ctx.fingerprint)
    except SamisError as error:
        st.error(f"Dataset {literal(repr(ctx.dataset_id))} cannot be opened: {literal(error)}. Register it again with "
                 f"`python -m samis datasets add {ctx.dataset_id} PATH --replace`, or choose another dataset.")
        return False
    return True


def _choose_split(ctx: Context) -> None:
    splits = split_names(ctx.dataset)
    # a dataset with a paper table opens on the paper protocol's split (test), so its rows sit beside the paper's
    protocol = "test" in splits and data.paper_key(ctx.root, ctx.dataset_id, "test") is not None
    default = "test" if protocol else "all"
    if default != "all" and not state.url_seeded("split") and st.query_params and state.url_value("split") is None:
        # a link made before links named their split meant 'all': say which split is shown now
        ui.notice(f"This link names no split; showing split {literal(repr(default))} (the paper's protocol). "
                  "Choose 'all' in the sidebar for every image.")
    ctx.split = state.bind(
        st.sidebar.selectbox, "Split", key="split", default=default, options=splits,
        url=state.UrlParam("split", always=True, rejected=lambda bad: st.warning(
            f"The link names split {literal(repr(bad))}, which {literal(repr(ctx.dataset_id))} does not have "
            f"(it has {', '.join(literal(x) for x in splits)}); showing {literal(repr(default))}.")))


def _choose_methods(ctx: Context) -> None:
    ctx.all_methods = ctx.workspace.prediction_methods(ctx.dataset_id)
    methods_key = f"methods::{ctx.dataset_id}"  # one selection per dataset: options differ
    kept = st.session_state.get(methods_key)
    if kept is not None and any(m not in ctx.all_methods for m in kept):
        st.session_state[methods_key] = [m for m in kept if m in ctx.all_methods]

    def parse_methods(text: str):
        wanted = [state.one_of(m, ctx.all_methods) or m for m in state.split_list(text)]
        known = [m for m in wanted if m in ctx.all_methods]
        unknown = [m for m in wanted if m not in ctx.all_methods]
        if unknown:
            st.warning(f"The link names method(s) {', '.join(literal(m) for m in unknown)} that "
                       f"{literal(repr(ctx.dataset_id))} has no predictions for; they are left out "
                       f"(available: {', '.join(literal(m) for m in ctx.all_methods) or 'none'}).")
        return known if known or not unknown else None

    # a random-weights model is never a result: selectable, but not in the default set
    real = [m for m in ctx.all_methods if m not in random_weight_methods(ctx.all_methods)]
    # an unusable link value: parse_methods has said why
    methods_url = state.UrlParam("methods", parse=parse_methods, rejected=lambda bad: None)
    ctx.methods = list(state.bind(st.sidebar.multiselect, "Methods", key=methods_key, url=methods_url,
                                  default=real or list(ctx.all_methods), options=ctx.all_methods,
                                  help="methods with stored predictions for this dataset") or [])


def _every_method(ctx: Context) -> set[str]:
    """Every method the workspace and the paper know: colours stay the same whatever is selected, and the
    same as the CLI's exports (:func:`samis.colors.workspace_methods`)."""
    return workspace_methods(ctx.workspace) | set(ctx.all_methods)


def _store(ctx: Context) -> None:
    st.session_state[_CONTEXT] = ctx
    st.session_state[_FRESH] = True


def page_context() -> Context:
    """The context the entry script built in this run (a page run on its own goes through the entry script)."""
    if st.session_state.pop(_FRESH, False) and _CONTEXT in st.session_state:
        return st.session_state[_CONTEXT]
    # Streamlit ran this page file on its own (see streamlit_compat): go through the entry script
    leave_old_multipage_mode()
    run_entry_script()




READ_ONLY_BANNER = ("This server is read-only: it shows results and changes nothing (no runs, imports or speed "
                    "measurements). Ask its operator to add data.")


def read_only_banner() -> None:
    """On a read-only server, a banner at the top of every page (the grey notes alone were easy to miss)."""
    if read_only():
        st.info(READ_ONLY_BANNER, icon=":material/lock:")


def read_only_page(title: str):
    """The page a read-only server shows at a write page's address (``/run``): it says why, and where to go."""

    def page() -> None:
        st.title(title)
        st.warning(f"This server is read-only: the {title} page (computing SAM masks and baselines, importing "
                   "predictions) is switched off here. The results are on the other pages.",
                   icon=":material/lock:")
        st.page_link(OVERVIEW_PATH, label="Open the Overview", icon=":material/home:")

    return page
