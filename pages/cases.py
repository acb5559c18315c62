"""Cases: every image of the split with its per-image metrics; filter, sort, open one image."""

import streamlit as st

from samis.cases import (CASE_FILTERS, OPERATING_POINT_IOU, CaseQuery, clamp_range, default_pair, filter_cases,
                         image_values, operating_point_label, outcome_selected, paired_rows,
                         value_span)
from samis.dashboard import data, state, ui
from samis.dashboard import review as review_ui
from samis.dashboard.sidebar import page_context
from samis.datasets import split_names
from samis.errors import SamisError
from samis.html_report import cases_section, image_cells_section
from samis.methods import describe
from samis.metrics import IMAGE_METRICS
from samis.pixel_level import DEFAULT_CALIBRATION_SPLIT
from samis.tables.columns import metric_label

PAGE_ROWS = 500  # rows of the table shown at once

ctx = page_context()
st.title("Cases")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

tables, scope = None, ctx.scope(methods)
with ui.guard("per-image results"):
    tables = data.per_image_wide(scope)
if tables is None:
    state.stop()

# -- IoU at the operating point: the inspection metrics' default calibration (pixel FPR ≤ 1 % on train) --
op_result, op_why = None, None
if DEFAULT_CALIBRATION_SPLIT not in split_names(ctx.dataset):
    op_why = f"the dataset has no {DEFAULT_CALIBRATION_SPLIT!r} split to calibrate the threshold on"
else:
    try:
        op_job = data.operating_point(ctx.root, ctx.dataset_id, ctx.split, methods, ctx.fingerprint)
        if op_job is None:
            op_why = "its per-image histograms are not stored yet (see the note above)"
        elif not op_job.done:
            op_why = f"being computed in the background ({ui.job_line(op_job)}); open the page again to see it"
        else:
            op_table = data.operating_point_table(scope, op_job, tables["Fw"])
            op_result, tables = op_job.outcome()[0], {**tables, OPERATING_POINT_IOU: op_table}
    except (SamisError, OSError, ValueError) as problem:
        op_why = str(problem)


def label(name: str, method: str | None = None) -> str:
    """A metric's label; IoU at the operating point names method A's threshold and its calibration."""
    return operating_point_label(op_result, method) if name == OPERATING_POINT_IOU else metric_label(name)


def _not_chosen(role: str, fallback: str):
    return lambda text: ui.notice(f"The link names method {ui.literal(repr(text))} as method {role}, but it is not "
                                  f"among the chosen methods of {ui.literal(ctx.dataset_id)}; using "
                                  f"{ui.literal(repr(fallback))}.")


# -- controls -----------------------------------------------------------------------------------------
default_a, default_b = default_pair(methods)
top = st.columns([1, 2, 1, 1])
metric = state.bind(top[0].selectbox, "Metric", key="cases_metric", url="metric", default="Fw",
                    options=(*IMAGE_METRICS, *([OPERATING_POINT_IOU] if op_result is not None else [])),
                    format_func=label)
mode = state.bind(top[1].selectbox, "Filter", key="cases_filter", url="filter", default="all", options=CASE_FILTERS,
                  format_func=CASE_FILTERS.get)
method_a = state.bind(top[2].selectbox, "Method A", key="cases_a",
                      url=state.UrlParam("method_a", rejected=_not_chosen("A", default_a)), default=default_a,
                      options=methods)
method_b = state.bind(top[3].selectbox, "Method B", key="cases_b",
                      url=state.UrlParam("method_b", rejected=_not_chosen("B", default_b)), default=default_b,
                      options=methods)
if op_why is not None:
    st.caption(f"IoU at the operating point is not offered: {ui.escaped(op_why)}")
elif metric == OPERATING_POINT_IOU:
    st.caption(ui.escaped("thresholds (flag score ≥ t, set per method on split " + op_result.calibration_split + "): "
                          + ", ".join(f"{m} t={r.threshold}" for m, r in op_result.methods.items())
                          + "; a defect-free image reads 1 when nothing is flagged, else 0"
                          + "".join(f"; {note}" for note in op_result.notes)))
second = st.columns([1, 1, 2])
margin = state.bind(second[0].number_input, "x (margin)", key="cases_x",
                    url=state.UrlParam("margin", parse=state.number_in(0.0, 1.0), dump=lambda v: f"{v:g}"),
                    default=0.0, min_value=0.0, max_value=1.0, step=0.01)
worst_n = state.count_input(second[1], "N (worst)", "worst_n", key="cases_n", url="worst_n", default=20)
table = tables[metric]
classes = sorted(table["class"].unique())
chosen_classes = state.bind(second[2].multiselect, "Classes", key="cases_classes", url="classes", default=[],
                            options=classes, placeholder="all classes")
span = value_span(table, methods)
range_key = f"cases_range::{metric}"
if range_key in st.session_state:
    st.session_state[range_key] = clamp_range(st.session_state[range_key], span)
value_range = state.bind(st.slider, f"{label(metric, method_a)} of method A between", key=range_key,
                         url=state.UrlParam("range", parse=state.range_in(*span), dump=lambda v: f"{v[0]:g}~{v[1]:g}"),
                         default=span, min_value=span[0], max_value=span[1], step=0.01)

defect_free_only = state.bind(st.toggle, "defect-free only", key="cases_defect_free",
                              url=state.flag("defect_free"),
                              default=False,
                              help="only images whose ground truth is empty (good parts): what each method flags there "
                                   "is a false alarm")
defect_free = None
if defect_free_only:
    with ui.guard("defect-free images"):
        defect_free = data.defect_free_ids(ctx.root, ctx.dataset_id, ctx.split, ctx.fingerprint)
    if defect_free is None:
        state.stop()
query = CaseQuery(method_a, metric, mode, method_b, float(margin), int(worst_n), tuple(chosen_classes),
                  tuple(value_range), defect_free_only=bool(defect_free_only))
selection = filter_cases(table, methods, query, defect_free=defect_free)
for note in selection.notes:
    st.info(note)
# -- review: tags, notes, review sets (samis.dashboard.review) --
review = review_ui.open_review(ctx.root, ctx.dataset_id, ctx.read_only)
who = review_ui.author(review)
keep, review_words = review_ui.review_filters(review)
shown = review_ui.with_tags(review_ui.keep_rows(selection.frame, keep), review)
st.caption(f"{len(shown)} of {selection.total} images · {ui.escaped(label(metric, method_a))}: "
           f"{'higher' if selection.higher_is_better else 'lower'} is better · sorted by method A · select a row to "
           "open the image")
st.text(f"method A: {method_a}" + (f" · method B: {method_b}" if mode == "beats" else ""))
paired = state.bind(st.toggle, "A vs B", key="cases_paired",
                    url=state.flag("paired"),
                    default=False,
                    help="method A against method B on the images shown: differences with 95 % paired-bootstrap "
                         "intervals and Wilcoxon signed-rank p-values (Holm-corrected)")
if paired:
    if method_a == method_b:
        st.info("A vs B needs two different methods: choose method B.")
    else:
        selected = outcome_selected(query, span)
        if selected:
            st.warning("The filter chose these images by method A's or B's scores: a paired test is not valid on an "
                       "outcome-selected subset. The test on every image of the split is shown beside it.")
        with ui.guard("A vs B"):
            runs = [("images shown", tuple(shown.index), "cases_paired_table")]
            if selected:
                runs.append((f"the whole split ({selection.total} images)", tuple(table.index), "cases_paired_split"))
            for column, (what, images, key) in zip(st.columns(len(runs)), runs):
                result = data.paired(scope, method_a, method_b, images)
                rows, notes = paired_rows(result)
                if selected:
                    column.markdown(f"**{what}**")
                column.dataframe(rows, hide_index=True, key=key)
                column.caption(f"A = {ui.literal(method_a)}, B = {ui.literal(method_b)}, {result.n_images} images · "
                               + ui.escaped(result.description))
                for note in [*result.notes, *notes]:
                    column.caption(ui.escaped(note))
if describe(method_a).upper_bound:
    st.caption("† method A looks at the ground truth: an upper bound, not a deployable result.")
numbers = [c for c in shown.columns if c not in ("class", "tags")]
# a page of rows at a time: a 150,000-image split is never one widget (sorted and filtered above, in full)
pages = max(1, -(-len(shown) // PAGE_ROWS))
if pages > 1:
    if st.session_state.get("cases_page", 1) > pages:  # the filter changed under a later page
        st.session_state["cases_page"] = pages
    page = state.bind(st.number_input, f"Page (of {pages}; {PAGE_ROWS} rows each)", key="cases_page",
                      url=state.UrlParam("page", parse=state.number_in(1, pages, int)), default=1, min_value=1,
                      max_value=pages, step=1)
    first = (int(page) - 1) * PAGE_ROWS
    st.caption(f"rows {first + 1}–{min(len(shown), first + PAGE_ROWS)} of {len(shown)}")
else:
    first = 0
on_page = shown.iloc[first:first + PAGE_ROWS]
picked_rows = st.dataframe(
    on_page.reset_index().style.format("{:.3f}", subset=numbers, na_rep="–"), hide_index=True, key="cases_table",
    on_select="rerun", selection_mode="single-row", height=360,
)
review_ui.save_set(review, who, list(shown.index), f"{CASE_FILTERS[mode]} by {metric} of {method_a}"
                   + (f"; {review_words}" if review_words else ""), {"dataset": ctx.dataset_id, "split": ctx.split})

# -- the image named by the URL or the selection -----------------------------------------------------------
ids = list(table.index)
rows = picked_rows.selection.rows if picked_rows is not None and hasattr(picked_rows, "selection") else []
_, unknown_image = state.seed("cases_image", None, "image", parse=lambda t: state.one_of(t, ids))
if unknown_image is not None:
    ui.notice(f"The link names image {ui.literal(repr(unknown_image))}, which is not in "
              f"{ui.literal(ctx.dataset_id + '/' + ctx.split)}; select a row instead.")
if rows and rows[0] < len(on_page):
    st.session_state["cases_image"] = on_page.index[rows[0]]
image_id = state.publish("cases_image", "image")


def download(cells=None, values=None) -> None:
    def sections():
        found = [cases_section(shown, f"{len(shown)} of {selection.total} images · {metric} of method A "
                                      f"{method_a}" + (f" against method B {method_b}" if mode == "beats" else ""))]
        return found + ([image_cells_section(image_id, cells, values)] if cells is not None else []) + \
            review_ui.report_sections(review, list(shown.index))

    ui.download_view("cases", f"Cases: {ctx.dataset_id} / {ctx.split}", sections, ctx.dataset_id, ctx.split, "Cases")


if image_id is None or image_id not in ids:
    download()
    state.stop()

st.subheader(f"Image {ui.literal(image_id)}")
sample = ctx.dataset.by_id()[image_id]
st.caption(f"class {ui.literal(sample.cls)} · {ui.literal(sample.image_path.name)}")
with st.expander("Tags and notes", expanded=True):
    review_ui.show_image_review(review, image_id)
    review_ui.review_form(review, who, image_id, methods)
controls = st.columns([1, 3])
overlay = state.bind(controls[0].toggle, "TP / FP / FN overlay", key="cases_overlay",
                     url=state.flag("overlay"),
                     default=False)
threshold = state.bind(controls[1].slider, "threshold", key="cases_t",
                       url=state.UrlParam("threshold", parse=state.number_in(1, 255, int)), default=128, min_value=1,
                       max_value=255, disabled=not overlay)
PER_ROW = 7
values = image_values(tables, image_id, methods)
cells = None
with ui.guard(f"image {image_id}"):
    cells = data.image_cells(ctx.root, ctx.dataset_id, image_id, methods, "overlay" if overlay else "maps",
                             int(threshold), ctx.fingerprint)
    for start in range(0, len(cells), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, (title, png, caption) in zip(columns, cells[start:start + PER_ROW]):
            value = values.at[title, metric] if title in values.index else None
            shown_label = title + ("" if value is None or value != value else f" · {label(metric, title)} {value:.3f}")
            if png is None:
                column.text(f"{title}: no map")
            else:
                column.image(png, caption=shown_label + (f" · {caption}" if caption else ""))
st.dataframe(values.rename(columns=label).style.format("{:.3f}", na_rep="no map"))
download(cells, values)
st.caption("Per-image values (pysodmetrics): Sa S-measure, MAE, Fw weighted F, adp* at the adaptive threshold, "
           "max* the maximum over 256 thresholds, IoU and Dice at the adaptive threshold (twice the map's mean); "
           "IoU@N under a picture: at threshold N.")
