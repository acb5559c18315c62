"""Good parts: how often each method flags a defect-free image, and whether it sorts good parts from bad ones."""

import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.image_level import DEFAULT_MIN_AREA_RULE, MissingImageKind
from samis.methods import upper_bound_methods
from samis.metrics import IMAGE_LEVEL_METRICS
from samis.plots import per_class_rate_figure, roc_figure
from samis.tables.image_level import TITLES

ctx = page_context()
st.title("Good parts")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

# -- controls -----------------------------------------------------------------------------------------
top = st.columns([1, 1, 1, 1])
min_area = state.bind(top[0].number_input, "Min region area (px; 0 = default)", key="gp_min_area",
                      url=state.UrlParam("min_area", parse=state.number_in(0, 10**8, int)), default=0, min_value=0,
                      max_value=10**8, step=1,
                      help=f"regions of the map at >= 128, 8-connected, of at least this many pixels count; "
                           f"0 uses {DEFAULT_MIN_AREA_RULE} of each image")
score = state.bind(top[1].radio, "ROC by", key="gp_score", url="score", default="area", options=("area", "max"),
                   horizontal=True, format_func={"area": "flagged area", "max": "map maximum"}.get)
grid_method = state.bind(top[2].selectbox, "False alarms of", key="gp_method", url="method", default=methods[0],
                         options=methods)
worst_n = state.count_input(top[3], "Worst N", "grid_images", key="gp_worst_n", url="worst_n", default=8)

# -- one library call ------------------------------------------------------------------------------------
result, missing_kind = None, None
with ui.guard("image level"):
    try:
        result = data.image_level(ctx.root, ctx.dataset_id, ctx.split, methods, int(min_area) or None,
                                  ctx.fingerprint)
    except MissingImageKind as missing:
        missing_kind = missing.missing
        st.info(ui.escaped(missing))
if result is None:
    if missing_kind is not None:
        st.caption(f"This page needs both kinds of images in {ui.literal(ctx.dataset_id + '/' + ctx.split)}: "
                   f"{missing_kind} images are missing. Defect-free images have an empty ground-truth mask; Magnetic "
                   "Tile's 952 MT_Free images come with `python -m samis datasets add mt PATH --include-defect-free`.")
    state.stop()

# -- display --------------------------------------------------------------------------------------------
n_free = len(result.free_ids)
st.caption(f"{ui.literal(ctx.dataset_id + '/' + ctx.split)}: {len(result.image_classes) - n_free} defect and {n_free} "
           f"defect-free images · min area {ui.literal(result.min_area_text)} px · maps as stored (0–255), regions at "
           ">= 128, 8-connected")
for note in result.notes:
    st.caption(ui.escaped(note))
for method, method_result in result.methods.items():
    if method_result.missing:
        st.warning(f"{ui.literal(method)} has no map for {len(method_result.missing)} images: scored on the "
                   f"{len(method_result.stems)} it has.")

upper = upper_bound_methods(methods)
COLUMNS = {"n_defect": "n defect", "n_free": "n defect-free", "missing": "no map", **TITLES}
frame = result.scores_frame().rename(columns=COLUMNS).set_index("method")
frame.index = [m + (" †" if m in upper else "") for m in frame.index]
st.subheader("Image level")
st.dataframe(frame, column_config={TITLES[m]: st.column_config.NumberColumn(TITLES[m], format="%.3f")
                                   for m in IMAGE_LEVEL_METRICS})
st.caption("false alarms: share of defect-free images with a flagged region · misses: share of defect images "
           "without one · AUROC: defect vs defect-free images ranked by the score, ties count ½ (0.5 = chance) · "
           "FPR@TPR95: the lowest false-alarm share at which an area threshold still finds 95 % of defect images")
if upper:
    st.caption(f"† {', '.join(ui.literal(m) for m in upper)}: upper bounds, they look at the ground truth "
               "(on a defect-free image the oracle may choose nothing).")

aucs = {m: r.summary()[f"auroc_{score}"] for m, r in result.methods.items()}
rocs = {m: r.roc(score, drop_intermediate=True) for m, r in result.methods.items()}  # corners: the same polyline
st.plotly_chart(roc_figure(rocs, ctx.colors, score, aucs), key="gp_roc")

st.subheader("Per defect class")
per_class = result.per_class_frame()
st.plotly_chart(per_class_rate_figure(per_class, ctx.colors), key="gp_per_class")
st.dataframe(per_class.rename(columns=COLUMNS), hide_index=True,
             column_config={TITLES[m]: st.column_config.NumberColumn(TITLES[m], format="%.3f")
                            for m in IMAGE_LEVEL_METRICS})
st.caption("Each defect class against every defect-free image: FPR@TPR95 is the false-alarm rate a line would "
           "pay to find 95 % of that class.")

st.subheader(f"Worst false alarms of {ui.literal(grid_method)}")
worst = result.worst_false_alarms(grid_method, int(worst_n))
if worst.empty:
    st.success(f"{ui.literal(grid_method)} flags no defect-free image.")
    state.stop()
with ui.guard("drawing the false alarms"):
    png = data.false_alarm_png(ctx.root, ctx.dataset_id, grid_method, tuple(worst["image"]),
                               result.min_area, tuple(float(a) for a in worst["area"]), 160, ctx.fingerprint)
    st.image(png)
    st.caption("defect-free images with the largest flagged area first; flagged regions in red, caption: image "
               "and flagged share of the image")
    st.download_button("Download the grid (PNG)", png, file_name=f"samis-false-alarms-{ctx.dataset_id}.png"
                       .replace(":", "-"), mime="image/png")
