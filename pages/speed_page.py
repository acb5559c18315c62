"""Speed: frames per second measured here beside the paper's Table 7, and accuracy against speed."""

import math
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from samis.baselines import BASELINES
from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.speed import speed_report

ctx = page_context()
st.title("Speed")


@st.cache_resource
def _measurements() -> dict:
    """The last speed table measured per (workspace, dataset), shared by every session of this server."""
    return {}


paper_rows = []
with ui.guard("paper Table 7"):
    paper_rows = data.paper_speed_rows()

# -- measuring ------------------------------------------------------------------------------------------------
baseline_names = list(BASELINES)
choices = baseline_names + ["sam-tiny-random"]
state.seed("speed_methods", list(baseline_names), "smethods",
           parse=lambda t: [m for m in state.split_list(t) if m in choices] or None)
state.seed("speed_runs", 10, "runs", parse=lambda t: int(t) if 1 <= int(t) <= 200 else None)
st.markdown("**Measure on this machine** (batch 1, warm-up runs then timed runs; median and spread)")
cols = st.columns([3, 1, 1])
cols[0].multiselect("Methods to time", choices, key="speed_methods",
                    help="sam-tiny-random is the test-size SAM with random weights: its speed is not SAM's")
cols[1].number_input("Timed runs", 1, 200, key="speed_runs")
use_dataset = cols[2].checkbox("Use the dataset's images", value=ctx.dataset is not None,
                               disabled=ctx.dataset is None)
go_measure = st.button("Measure", type="primary", key="speed_go")
picked = state.publish("speed_methods", "smethods", dump=",".join, default=list(baseline_names))
runs = int(state.publish("speed_runs", "runs", default=10))
key = (ctx.root, ctx.dataset_id if use_dataset else None)
if go_measure:
    with ui.guard("measuring speed"), st.status("Measuring…", expanded=True) as box:
        table = speed_report(ctx.workspace, methods=list(picked) or None,
                             dataset=ctx.dataset_id if use_dataset else None, n_images=5, warmup=3, runs=runs,
                             time_budget_s=20.0, include_paper=False,
                             progress=ui.Progress())
        _measurements()[key] = (table, time.strftime("%Y-%m-%d %H:%M"))
        box.update(label="measured", state="complete", expanded=False)
measured = _measurements().get(key)

# -- the table ---------------------------------------------------------------------------------------------------
rows = []
if measured:
    table, when = measured
    for r in table.rows:
        rows.append({"method": r.label, "source": f"measured {when}", "device": r.device, "params (M)": r.params_m,
                     "size (MB)": r.size_mb, "FPS": r.fps, "ms median": r.ms_median,
                     "ms IQR": None if r.ms_q1 is None else f"{r.ms_q1:.1f}–{r.ms_q3:.1f}",
                     "image size": r.image_size, "note": r.note})
for r in paper_rows:
    rows.append({"method": r.printed_name, "source": "paper (Table 7)", "device": "RTX 3080", "params (M)": r.params_m,
                 "size (MB)": r.model_mb, "FPS": r.fps, "ms median": None, "ms IQR": None, "image size": "",
                 "note": ""})
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"FPS": st.column_config.NumberColumn(format="%.1f"),
                                "ms median": st.column_config.NumberColumn(format="%.2f")})
if measured:
    table = measured[0]
    st.caption(f"Images: {table.images}. Protocol: {table.protocol}" + "".join(f"  \n{n}" for n in table.notes))
else:
    st.info("Nothing measured on this machine yet: choose methods and press **Measure**.")

# -- accuracy against speed --------------------------------------------------------------------------------------
st.subheader("Accuracy against speed")
paper_key = data.paper_key(ctx.dataset.layout, ctx.split) if ctx.dataset is not None else None
accuracy_tables = ["sd900", "mt", "nrsd-mn"]
state.seed("speed_acc", paper_key if paper_key in accuracy_tables else "sd900", "acc",
           parse=lambda t: t if t in accuracy_tables else None)
st.selectbox("Paper accuracy from", accuracy_tables, key="speed_acc",
             format_func=lambda k: {"sd900": "Table 3 (SD-saliency-900)", "mt": "Table 4 (MT)",
                                    "nrsd-mn": "Table 5 (NRSD-MN)"}[k],
             help="Table 7 gives speed only; each paper point takes its Fm from this table")
accuracy_key = state.publish("speed_acc", "acc", default=paper_key if paper_key in accuracy_tables else "sd900")
points = []
accuracy_metric = "Fm"
with ui.guard("paper accuracy"):
    published = data.paper_table(accuracy_key)
    accuracy = {r.method: r.values.get(accuracy_metric) for r in published.rows}
    for r in paper_rows:
        if accuracy.get(r.method) is not None and r.fps:
            points.append({"method": r.method, "label": r.printed_name, "fps": r.fps, "acc": accuracy[r.method],
                           "params": r.params_m or 0.0, "source": "paper"})
if measured and ctx.dataset is not None and ctx.all_methods:
    with ui.guard("measured accuracy"):
        scores = data.scores(ctx.root, ctx.dataset_id, ctx.split, tuple(ctx.all_methods), ctx.fingerprint)
        for r in measured[0].rows:
            if r.fps and r.method in scores and scores[r.method]["n_images"]:
                points.append({"method": r.method, "label": r.label, "fps": r.fps, "acc": scores[r.method]["maxFm"],
                               "params": r.params_m or 0.0, "source": "measured"})
if not points:
    st.info("The chart needs methods with both a speed and an accuracy: the paper's rows for "
            "sd900 / mt / nrsd-mn datasets, or methods measured above that have predictions on this dataset.")
else:
    figure = go.Figure()
    for source, symbol in (("paper", "circle"), ("measured", "diamond")):
        part = [p for p in points if p["source"] == source]
        if not part:
            continue
        figure.add_trace(go.Scatter(
            x=[p["fps"] for p in part], y=[p["acc"] for p in part], mode="markers+text",
            text=[p["label"] for p in part], textposition="top center", name=source,
            marker={"symbol": symbol, "color": [ctx.colors.get(p["method"], "#888888") for p in part],
                    # area proportional to parameters; methods without weights get a small fixed marker
                    "size": [8 + 4 * math.sqrt(max(p["params"], 0.0)) for p in part], "sizemode": "diameter",
                    "line": {"width": 1, "color": "#333"}},
            hovertemplate="%{text}<br>%{x:.2f} FPS<br>Fm %{y:.3f}<extra></extra>",
        ))
    figure.update_layout(xaxis_type="log", xaxis_title="frames per second (log)",
                         yaxis_title="max F-measure (Fm)", height=480, legend_title="source")
    st.plotly_chart(figure, key="acc_fps")
    st.caption("Marker size grows with the parameter count (√params). Paper points: Table 7 FPS on an RTX 3080 with "
               f"the Fm of {accuracy_key}'s table; measured points: FPS here with maxFm on {ctx.dataset_id}/{ctx.split}. "
               "Different devices: compare the shapes, not the absolute FPS.")
