"""Compare: the comparison table, per-class scores, PR and F-measure curves, exports."""

import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.html_report import comparison_sections
from samis.metrics import DATASET_METRICS
from samis.pixel_level import PixelLevelOptions
from samis.plots import curve_figures, family_pareto_figure
from samis.review import GT_ERROR_TAG
from samis.stats import STAT_METRICS
from samis.tables import GAP_DEFINITIONS
from samis.tables.columns import metric_label
from samis.tables.metric_sets import METRIC_SETS, MetricSetTable
from samis.tables.per_class import better_direction

ctx = page_context()
st.title("Compare")
ctx.require(dataset=True)

family_preset = state.bind(
    st.toggle, "Preset: SAM family", key="cmp_family", default=False,
    url=state.UrlParam("preset", parse=lambda t: t == "family" or None, dump=lambda v: "family" if v else None),
    help="every model and mode of the model registry with maps on this dataset (SAM, SAM 2.1, HQ-SAM, "
         "EfficientViT-SAM): saliency and inspection metrics with bootstrap intervals, parameters, FPS and peak "
         "memory from the dataset's speed record, and accuracy against speed with the Pareto front "
         "(`samis report DATASET --family`)")
if family_preset:
    family_table = None
    with ui.guard("SAM family"):
        speed_stamp = data.speed_stamp(ctx.root, ctx.dataset_id)
        family_table = data.family(ctx.root, ctx.dataset_id, ctx.split, tuple(ctx.all_methods), ctx.fingerprint,
                                   speed_stamp)
    if family_table is None:
        st.info("No maps of SAM-family models on this dataset yet: run one on the Run page "
                "(or `python -m samis sam DATASET --model …`).")
        state.stop()
    st.subheader(ui.literal(f"{ctx.dataset_id} / {ctx.split}: the SAM family"))
    st.caption("Deployable rows first; † rows looked at the ground truth (upper bounds, not results). "
               "Values: point (95 % bootstrap interval).")
    st.dataframe(family_table.records(), hide_index=True)
    for note in family_table.notes:
        st.caption(ui.escaped(note))
    demo = st.toggle("Plot test-size models (a demo of the code path, random weights)", key="cmp_family_demo",
                     value=False, help="test-size models have random weights: never results, only a labelled demo")
    chart = family_pareto_figure(family_table, "Fm", ctx.colors, demo=demo)
    if chart is None:
        st.info("Nothing to plot: no model with real weights has both maps here and an FPS in the dataset's speed "
                "record (time them on the Speed page or with `python -m samis speed`).")
    else:
        st.plotly_chart(chart, key="family_pareto")
    cols = st.columns(3)
    stem = f"samis-{ctx.dataset_id}-{ctx.split}-family".replace(":", "-")
    cols[0].download_button("CSV", family_table.to_csv(), file_name=f"{stem}.csv", mime="text/csv")
    cols[1].download_button("Markdown", family_table.to_markdown(), file_name=f"{stem}.md", mime="text/markdown")
    cols[2].download_button("JSON", family_table.to_json(), file_name=f"{stem}.json", mime="application/json")
    state.stop()

metric_set = state.bind(st.segmented_control, "Metrics", key="cmp_metric_set", url="metric_set",
                        default=METRIC_SETS[0], options=METRIC_SETS,
                        help="the paper's saliency metrics, the inspection metrics (pixel AUROC, AP, F1-max, AUPRO, "
                             "the operating point; see the Inspection view), or both on the same maps")
if metric_set != METRIC_SETS[0]:
    ctx.require(methods=True)
    metric_table = None
    with ui.guard("inspection metrics"):
        inspection = data.pixel_level(ctx.root, ctx.dataset_id, ctx.split, tuple(ctx.methods), PixelLevelOptions(),
                                      ctx.fingerprint)
        if inspection is not None:  # None: a large job waits for a click (the page says so)
            saliency = data.evaluation(ctx.scope()).scores if metric_set == "both" else None
            metric_table = MetricSetTable(metric_set, saliency, inspection, title=f"{ctx.dataset_id} / {ctx.split}: "
                                          f"{metric_set} metrics, thresholds set on split {inspection.calibration_split}")
    if metric_table is None:
        state.stop()
    st.subheader(ui.literal(metric_table.title))
    for note in inspection.notes:
        st.warning(ui.escaped(note))
    st.dataframe(metric_table.records(), hide_index=True)
    for note in metric_table.notes():
        st.caption(ui.escaped(note))
    cols = st.columns(3)
    stem = f"samis-{ctx.dataset_id}-{ctx.split}-{metric_set.split()[0]}".replace(":", "-")
    cols[0].download_button("CSV", metric_table.to_csv(), file_name=f"{stem}.csv", mime="text/csv")
    cols[1].download_button("Markdown", metric_table.to_markdown(), file_name=f"{stem}.md", mime="text/markdown")
    cols[2].download_button("LaTeX", metric_table.to_latex(), file_name=f"{stem}.tex", mime="text/x-tex")
    state.stop()

paper_key = data.paper_key(ctx.root, ctx.dataset_id, ctx.split)
sources = ["measured", "paper", "both"] if paper_key else ["measured"]
default_source = ("both" if ctx.methods else "paper") if paper_key else "measured"
source = state.bind(st.segmented_control, "Rows", key="cmp_source", url=state.UrlParam("source", always=True),
                    default=default_source, options=sources,
                    help="measured here, printed in the paper, or both: each source is its own block, never ranked "
                         "with the other")
if not paper_key:
    st.caption(f"The paper has no table for layout {ui.literal(repr(ctx.dataset.layout))}: only rows measured here "
               "are shown.")
use_measured = source in ("measured", "both")
use_paper = source in ("paper", "both") and paper_key is not None
if use_measured and not ctx.methods:
    ctx.require(methods=True)

switches = st.columns(3)
references = state.bind(
    switches[0].toggle, "Reference rows", key="cmp_references", default=True, disabled=not use_measured,
    url=state.UrlParam("references", parse=lambda t: t == "1", dump=lambda v: "1" if v else "0"),
    help="ref:zeros (an all-zero map) and ref:const128 (every pixel 128), scored on the same images: a method "
         "near them scores like a map that finds nothing")
upper_bounds_compete = state.bind(
    switches[1].toggle, "Upper bounds † take part in best marks", key="cmp_upper_bounds",
    url=state.flag("upper_bounds"), default=False,
    help="upper bounds look at the ground truth: by default they are shown, marked †, but not ranked")

exclude_gt = state.bind(
    switches[2].toggle, f"Exclude images tagged `{GT_ERROR_TAG}`", key="cmp_exclude_gt",
    url=state.flag("exclude_gt_error"), default=False, disabled=not use_measured,
    help=f"leave out of the measured rows the images tagged {GT_ERROR_TAG!r} (bad ground truth) in the review store, "
         "by anyone: scores, reference rows, intervals, tests, per-class scores, curves and every export use the "
         "same images (as `--exclude-tag` does on the command line)")

# the images tagged "gt error" are read from the review store on every rerun (uncached): a colleague's new tag
# counts at once, and the left-out image ids are part of every cache key below (data.Scope)
scope = ctx.scope()
with ui.guard("review tags"):
    if exclude_gt and use_measured:
        scope, left_out = data.without_tagged(scope, (GT_ERROR_TAG,))
        kept = len(data.split_ids(ctx.root, ctx.dataset_id, ctx.split, ctx.fingerprint)) - len(left_out.images)
        said = left_out.describe()
        ui.notice(ui.escaped(said[:1].upper() + said[1:]) + f": the measured rows, their intervals and tests, "
                  f"the per-class scores, the curves and the exports use the other {kept} images of the split.")
if exclude_gt and use_measured and not scope.exclude_tags:  # the store could not be read: said above
    state.stop()

found = None
with ui.guard("scoring"):
    found = data.comparison(scope if use_measured else ctx.scope(()), use_paper, use_measured,
                            bool(references and use_measured))
if found is None:
    state.stop()
evaluation = found.evaluation
for method, result in (evaluation.methods.items() if evaluation is not None else ()):
    if result.missing:
        scored = evaluation.scores[method]["n_images"]
        st.warning(f"{ui.literal(method)} has no map for {len(result.missing)} of {scored + len(result.missing)} "
                   f"images of {ui.literal(ctx.dataset_id + '/' + ctx.split)}: its scores use the {scored} images "
                   "it has.")
if len([row for row in found.rows if not row.reference]) < 2:  # references alone compare nothing
    st.info("A comparison needs at least two methods: choose more in the sidebar, or show the paper's rows.")
    state.stop()

NO_GAP = "(none)"
default_gap = found.default_gap_method or NO_GAP
left, right = st.columns(2)
gap_method = state.bind(
    left.selectbox, "Gap row: compare", key="cmp_gap", default=default_gap, options=[NO_GAP, *found.keys],
    url=state.UrlParam("gap_method", always=True, rejected=lambda bad: ui.notice(
        f"The link asks for a gap row of {ui.literal(repr(bad))}, which is not in this table; showing "
        f"{ui.literal(repr(default_gap))}.")),
    help="the gap row gives, per metric, how far the best other method is ahead of this one")
gap_definition = state.bind(
    right.radio, "Gap definition", key="cmp_gapdef", url="gap_definition", default=found.gap_definition,
    options=GAP_DEFINITIONS, horizontal=True,
    format_func={"larger": "larger (Tables 3–5)", "reference": "reference (Table 6)"}.get)

uncertainty = state.bind(
    st.toggle, "Uncertainty", key="cmp_uncertainty", url=state.flag("uncertainty"), default=False,
    disabled=evaluation is None,
    help="95 % bootstrap intervals over images for the measured rows, whether each best value is significantly "
         "ahead of the runner-up, the significance matrix and the rank stability")
boot = None
scored = max((s.get("n_images") or 0 for s in evaluation.scores.values()), default=0) if evaluation else 0
if uncertainty and evaluation is not None and scored < 2:
    ui.notice(f"Uncertainty needs at least 2 images; split {ui.literal(repr(ctx.split))} of "
              f"{ui.literal(ctx.dataset_id)} has {scored}: intervals are not shown.")
elif uncertainty and evaluation is not None:
    with ui.guard("bootstrap intervals"):
        boot = data.bootstrap(scope)

title = f"{ctx.dataset_id} / {ctx.split}" + (f" beside Table {found.paper_table.number}" if use_paper else "")
table = None
with ui.guard("comparison table"):
    table = found.table(gap_method="" if gap_method == NO_GAP else gap_method, gap_definition=gap_definition,
                        dataset=ctx.dataset_id, title=title, bootstrap=boot,
                        upper_bounds_compete=bool(upper_bounds_compete))
if table is None:
    state.stop()
st.subheader(ui.literal(title))
ui.show_comparison(table, key="compare_table")
cols = st.columns(3)
stem = f"samis-{ctx.dataset_id}-{ctx.split}".replace(":", "-")
cols[0].download_button("CSV", table.to_csv(), file_name=f"{stem}.csv", mime="text/csv")
cols[1].download_button("Markdown", table.to_markdown(), file_name=f"{stem}.md", mime="text/markdown")
cols[2].download_button("LaTeX", table.to_latex(), file_name=f"{stem}.tex", mime="text/x-tex")

def download(metric: str | None = None) -> None:
    # with Uncertainty on, the file carries the intervals, sig./tied and both uncertainty charts too
    chosen = st.session_state.get("cmp_stats_metric")  # read here: the file is built on another thread
    ui.download_view("compare", f"Compare: {title}", lambda: comparison_sections(
        table, evaluation, ctx.colors, metric or "maxFm", boot=boot, stats_metric=chosen),
        ctx.dataset_id, ctx.split, "Compare")


if evaluation is None:
    download()
    state.stop()

# -- uncertainty ------------------------------------------------------------------------------------
if boot is not None:
    st.subheader("Uncertainty")
    stats_metric = state.bind(st.selectbox, "Metric of the matrix and ranks", key="cmp_stats_metric",
                              url="stats_metric", default="maxFm", options=STAT_METRICS)
    with ui.guard("significance matrix and rank stability"):
        ranks, matrix = data.uncertainty_figures(scope, stats_metric, dict(ctx.colors))
        left, right = st.columns(2)
        left.plotly_chart(matrix, key="significance_matrix")
        right.plotly_chart(ranks, key="rank_stability")
        st.caption(ui.escaped(boot.description()))
        for note in boot.notes:
            st.caption(ui.escaped(note))

# -- per class ------------------------------------------------------------------------------------
st.subheader("Per defect class")
metric = state.bind(st.selectbox, "Metric", key="cmp_class_metric", url="class_metric", default="maxFm",
                    options=DATASET_METRICS, format_func=metric_label)
with ui.guard("per-class scores"):
    frame = data.class_table(scope, metric)
    better = better_direction(metric)
    styled = frame.style.format("{:.3f}", na_rep="–")
    styled = (styled.highlight_max(axis=0, props="font-weight: bold") if better == "higher"
              else styled.highlight_min(axis=0, props="font-weight: bold"))
    st.dataframe(styled)
    st.caption(f"{metric_label(metric)}: {better} is better; bold = best per class; (n) images per class.")

# -- curves -----------------------------------------------------------------------------------------
st.subheader("Curves")
pr, fm = curve_figures(evaluation.scores, ctx.colors)
left, right = st.columns(2)
left.plotly_chart(pr, key="pr_curve")
right.plotly_chart(fm, key="fm_curve")
st.caption("Curves average each image's precision, recall and F-measure at every threshold, as pysodmetrics does; "
           "maxFm is the top of the right-hand curve.")
download(metric)
