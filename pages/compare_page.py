"""Compare: the comparison table, per-class scores, PR and F-measure curves, exports."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.metrics import thresholds
from samis.tables import GAP_DEFINITIONS, TABLE_METRICS, build_table, measured_rows, paper_rows

ctx = page_context()
st.title("Compare")
ctx.require(dataset=True)

paper_key = data.paper_key(ctx.dataset.layout, ctx.split)
sources = ["measured", "paper", "both"] if paper_key else ["measured"]
default_source = ("both" if ctx.methods else "paper") if paper_key else "measured"
state.seed("cmp_source", default_source, "source",
           parse=lambda t: t if t in sources else None)
if st.session_state["cmp_source"] not in sources:
    st.session_state["cmp_source"] = sources[0]
source = st.segmented_control("Rows", sources, key="cmp_source",
                              help="measured here, printed in the paper, or both in one table") or sources[0]
state.publish("cmp_source", "source", default=None)
if not paper_key:
    st.caption(f"The paper has no table for layout {ctx.dataset.layout!r}: only rows measured here are shown.")

use_measured = source in ("measured", "both")
use_paper = source in ("paper", "both") and paper_key is not None
if use_measured and not ctx.methods:
    ctx.require(methods=True)

rows = []
missing = {}
result_scores = {}
with ui.guard("scoring"):
    if use_measured:
        methods = tuple(ctx.methods)
        result_scores = data.scores(ctx.root, ctx.dataset_id, ctx.split, methods, ctx.fingerprint)
        missing = data.missing_counts(ctx.root, ctx.dataset_id, ctx.split, methods, ctx.fingerprint)
        rows += measured_rows({m: s for m, s in result_scores.items() if s["n_images"]}, ctx.dataset_id, ctx.split)
    if use_paper:
        published = data.paper_table(paper_key)
        rows += paper_rows(published)
for method, count in missing.items():
    if count:
        n = result_scores.get(method, {}).get("n_images", 0)
        st.warning(f"{method} has no map for {count} of {n + count} images of {ctx.dataset_id}/{ctx.split}: "
                   f"its scores use the {n} images it has.")

if len(rows) < 2:
    st.info("A comparison needs at least two methods: choose more in the sidebar, or show the paper's rows.")
    state.stop()

keys = []
for row in rows:
    keys.append(row.label)
gap_choices = ["(none)"] + keys
default_gap = next((k for k in keys if k == "SAM"), None) or next((k for k in keys if k.startswith("sam-")), "(none)")
if st.session_state.get("cmp_gap") not in gap_choices:
    state.forget("cmp_gap")
_, rejected = state.seed("cmp_gap", default_gap, "gap", parse=lambda t: t if t in gap_choices else None)
if rejected is not None:
    st.info(f"The link asks for a gap row of {rejected!r}, which is not in this table; showing {default_gap!r}.")
default_def = data.paper_table(paper_key).gap_definition if use_paper else "larger"
state.seed("cmp_gapdef", default_def, "gapdef", parse=lambda t: t if t in GAP_DEFINITIONS else None)
left, right = st.columns(2)
left.selectbox("Gap row: compare", gap_choices, key="cmp_gap",
               help="the gap row gives, per metric, how far the best other method is ahead of this one")
right.radio("Gap definition", list(GAP_DEFINITIONS), key="cmp_gapdef", horizontal=True,
            format_func={"larger": "larger (Tables 3–5)", "reference": "reference (Table 6)"}.get)
gap_method = state.publish("cmp_gap", "gap", default=default_gap)
gap_definition = state.publish("cmp_gapdef", "gapdef", default=default_def)

title = f"{ctx.dataset_id} / {ctx.split}" + (f" beside {data.paper_table(paper_key).caption.split(':')[0]}" if use_paper else "")
table = None
with ui.guard("comparison table"):
    notes = []
    if use_paper and use_measured:
        notes.append("paper and measured rows come from different splits and implementations: compare with care")
    table = build_table(rows, TABLE_METRICS, gap_method=None if gap_method == "(none)" else gap_method,
                        gap_definition=gap_definition, dataset=ctx.dataset_id, title=title, notes=notes)
if table is None:
    state.stop()
st.subheader(title)
ui.show_comparison(table, key="compare_table")
cols = st.columns(3)
stem = f"samis-{ctx.dataset_id}-{ctx.split}".replace(":", "-")
cols[0].download_button("CSV", table.to_csv(), file_name=f"{stem}.csv", mime="text/csv")
cols[1].download_button("Markdown", table.to_markdown(), file_name=f"{stem}.md", mime="text/markdown")
cols[2].download_button("LaTeX", table.to_latex(), file_name=f"{stem}.tex", mime="text/x-tex")

if not use_measured or not result_scores:
    state.stop()

# -- per class ------------------------------------------------------------------------------------
st.subheader("Per defect class")
metric_names = ["Sa", "MAE", "maxEm", "meanEm", "adpEm", "Fw", "maxFm", "meanFm", "adpFm"]
state.seed("cmp_class_metric", "maxFm", "cmetric", parse=lambda t: t if t in metric_names else None)
metric = st.selectbox("Metric", metric_names, key="cmp_class_metric")
state.publish("cmp_class_metric", "cmetric", default="maxFm")
with ui.guard("per-class scores"):
    per_class = data.class_scores(ctx.root, ctx.dataset_id, ctx.split, tuple(ctx.methods), ctx.fingerprint)
    frame = pd.DataFrame({cls: {m: s[metric] for m, s in per.items()} for cls, per in per_class.items()})
    frame["all"] = pd.Series({m: s[metric] for m, s in result_scores.items()})
    counts = {cls: next(iter(per.values()))["n_images"] for cls, per in per_class.items() if per}
    frame.columns = [f"{c} ({counts[c]})" if c in counts else c for c in frame.columns]
    better = "higher" if metric not in ("MAE",) else "lower"
    styled = frame.style.format("{:.3f}", na_rep="–")
    styled = (styled.highlight_max(axis=0, props="font-weight: bold") if better == "higher"
              else styled.highlight_min(axis=0, props="font-weight: bold"))
    st.dataframe(styled)
    st.caption(f"{metric}: {better} is better; bold = best per class; (n) images per class.")

# -- curves -----------------------------------------------------------------------------------------
st.subheader("Curves")
pr, fm = go.Figure(), go.Figure()
axis = thresholds()
for method, score in result_scores.items():
    curves = data.curve_arrays(score)
    if not curves:
        continue
    colour = ctx.colors.get(method)
    pr.add_trace(go.Scatter(x=np.asarray(curves["recall"]), y=np.asarray(curves["precision"]), mode="lines",
                            name=method, line={"color": colour}))
    fm.add_trace(go.Scatter(x=axis, y=np.asarray(curves["fm"]), mode="lines", name=method, line={"color": colour}))
pr.update_layout(title="Precision–recall (256 thresholds)", xaxis_title="recall", yaxis_title="precision",
                 xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=420, legend_title="method")
fm.update_layout(title="F-measure (β² = 0.3) against threshold", xaxis_title="threshold (0–255)",
                 yaxis_title="F-measure", yaxis_range=[0, 1.02], height=420, legend_title="method")
left, right = st.columns(2)
left.plotly_chart(pr, key="pr_curve")
right.plotly_chart(fm, key="fm_curve")
st.caption("Curves average each image's precision, recall and F-measure at every threshold, as pysodmetrics does; "
           "maxFm is the top of the right-hand curve.")
