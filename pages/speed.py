"""Speed: frames per second measured here beside the paper's Table 7, and accuracy against speed."""

import streamlit as st

from samis.baselines import BASELINES
from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.models import RUNNABLE_MODELS
from samis.plots import accuracy_speed_figure, family_pareto_figure
from samis.speed import TimingProtocol, speed_report
from samis.speed.compare import (ACCURACY_TABLES, accuracy_speed_points, points_left_out, speed_display_frame,
                                 speed_frame)
from samis.speed.records import save_speed_record, speed_records

ctx = page_context()
st.title("Speed")


paper_rows = []
with ui.guard("paper Table 7"):
    paper_rows = data.paper_speed_rows()

# -- measuring ------------------------------------------------------------------------------------------------
baseline_names = list(BASELINES)
use_dataset = ctx.dataset is not None
if ctx.read_only:
    st.caption("This server is read-only: measuring speed here is switched off.")
else:
    st.markdown("**Measure on this machine** (batch 1, warm-up runs then timed runs; median and spread)")
    cols = st.columns([3, 1, 1])
    test_size = [m.label for m in RUNNABLE_MODELS.values() if m.random_weights]
    picked = state.bind(cols[0].multiselect, "Methods to time", key="speed_methods", url="speed_methods",
                        default=baseline_names, options=[*baseline_names, *test_size],
                        help=f"{', '.join(test_size)} are the registry's test-size models (one per family) with "
                             "random weights: their speed is not their family's")
    runs = state.count_input(cols[1], "Timed runs", "speed_runs", key="speed_runs", url="runs", default=10)
    use_dataset = cols[2].checkbox("Use the dataset's images", value=ctx.dataset is not None,
                                   disabled=ctx.dataset is None)
    go_measure = st.button("Measure", type="primary", key="speed_go")
    if go_measure:
        with ui.guard("measuring speed"), st.status("Measuring…", expanded=True) as box:
            table = speed_report(ctx.workspace, methods=list(picked) or None,
                                 dataset=ctx.dataset_id if use_dataset else None,
                                 protocol=TimingProtocol(warmup=3, runs=int(runs), time_budget_s=20.0, n_images=5),
                                 include_paper=False, progress=ui.Progress())
            saved = save_speed_record(ctx.workspace, table, ctx.dataset_id if use_dataset else None)
            box.update(label=f"measured and saved ({saved.shown_time})", state="complete", expanded=False)

# -- saved measurements (the CLI's `speed` writes the same records) ------------------------------------------
records, problems = {}, []
with ui.guard("saved speed measurements"):
    records, problems = speed_records(ctx.workspace)
for problem in problems:
    st.warning(f"{ui.escaped(problem)}: left out of the table; measure again to replace it.")
wanted = ctx.dataset_id if use_dataset else None
record = records.get(wanted) or (records.get(None) if ctx.read_only or ctx.dataset is None else None)
measured = record.table if record is not None else None
measured_at = record.shown_time if record is not None else None

# -- the table ---------------------------------------------------------------------------------------------------
frame = speed_frame(measured, measured_at, paper_rows)
if len(frame):
    st.dataframe(speed_display_frame(frame), hide_index=True)
    st.caption("– : not applicable or not printed (a baseline has no weights file; Table 7 gives no median ms)")
if record is not None:
    st.caption(f"Measured {ui.escaped(record.shown_time)} on {ui.escaped(record.device or 'this machine')} "
               f"(saved in the workspace: speed/{ui.escaped(record.path.name)}). Images: {ui.escaped(measured.images)}. "
               f"Protocol: {ui.escaped(measured.protocol)}" + "".join(f"  \n{ui.escaped(n)}" for n in measured.notes))
elif not ctx.read_only:
    st.info("Nothing measured on this machine yet: choose methods and press **Measure**.")

# -- accuracy against speed --------------------------------------------------------------------------------------
st.subheader("Accuracy against speed")
paper_key = data.paper_key(ctx.root, ctx.dataset_id, ctx.split) if ctx.dataset is not None else None
default_table = paper_key if paper_key in ACCURACY_TABLES else "sd900"
accuracy_key = state.bind(st.selectbox, "Paper accuracy from", key="speed_acc", url="accuracy_table",
                          default=default_table, options=ACCURACY_TABLES, format_func=ACCURACY_TABLES.get,
                          help="Table 7 gives speed only; each paper point takes its Fm from this table")
points = []
with ui.guard("accuracy"):
    scores = None
    if measured is not None and ctx.dataset is not None and ctx.all_methods:
        scores = data.evaluation(ctx.scope(ctx.all_methods)).scores
    points = accuracy_speed_points(paper_rows, data.paper_table(accuracy_key), measured, scores)
left_out = points_left_out(measured, scores, f"{ctx.dataset_id}/{ctx.split}" if ctx.dataset is not None else None)
if left_out:
    st.caption("Measured here but not on the chart: " + "; ".join(ui.escaped(line) for line in left_out))
if not points:
    st.info("The chart needs methods with both a speed and an accuracy: the paper's rows for "
            "sd900 / mt / nrsd-mn datasets, or methods measured above that have predictions on this dataset.")
else:
    st.plotly_chart(accuracy_speed_figure(points, ctx.colors), key="acc_fps")
    st.caption("Marker size grows with the parameter count (√params). Paper points: Table 7 FPS on an RTX 3080 with "
               f"the Fm of {accuracy_key}'s table; measured points: FPS here with maxFm on "
               f"{ui.literal(f'{ctx.dataset_id}/{ctx.split}')}. Different devices: compare the shapes, not the "
               "absolute FPS.")

# -- the SAM family: accuracy against speed, with the Pareto front ---------------------------------------------
if ctx.dataset is not None:
    st.subheader("SAM family: accuracy against speed")
    family_table = None
    with ui.guard("SAM family"):
        family_table = data.family(ctx.root, ctx.dataset_id, ctx.split, tuple(ctx.all_methods), ctx.fingerprint,
                                   data.speed_stamp(ctx.root, ctx.dataset_id))
    if family_table is None:
        # a caption, not a notice: the page above has its content; this section waits for a family model's maps
        st.caption("No maps of SAM-family models on this dataset yet: nothing to put against speed (run one on the "
                   "Run page).")
    else:
        demo = st.toggle("Plot test-size models (a demo of the code path, random weights)", key="speed_family_demo",
                         value=False, help="test-size models have random weights: never results, only a labelled demo")
        chart = family_pareto_figure(family_table, "Fm", ctx.colors, demo=demo)
        if chart is None:
            st.info("No model has both maps on this dataset and an FPS in its saved speed record"
                    + ("" if demo else " (test-size models are left out unless plotted as a demo)")
                    + ": time them above with “Use the dataset's images”.")
        else:
            st.plotly_chart(chart, key="family_pareto")
            st.caption("One point per model and mode: FPS from this dataset's speed record, maxFm measured here on "
                       f"{ui.literal(f'{ctx.dataset_id}/{ctx.split}')}. The dotted line joins the Pareto front of the "
                       "deployable rows; † upper bounds (open markers) used the ground truth and are never on it. "
                       "The Compare page's SAM family preset has the whole table.")
