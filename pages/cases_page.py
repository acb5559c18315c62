"""Cases: every image of the split with its per-image metrics; filter, sort, open one image."""

import numpy as np
import pandas as pd
import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.metrics import HIGHER_IS_BETTER, IMAGE_METRICS

ctx = page_context()
st.title("Cases")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

wide = None
with ui.guard("per-image results"):
    wide = data.per_image_wide(ctx.root, ctx.dataset_id, ctx.split, methods, ctx.fingerprint)
if wide is None:
    state.stop()

# -- controls -----------------------------------------------------------------------------------------
metrics = list(IMAGE_METRICS)
sam_like = next((m for m in methods if m.startswith("sam")), methods[0])
others = [m for m in methods if m != sam_like]
FILTERS = {
    "all": "all images",
    "beats": "method A beats method B by at least x",
    "good": "good cases: A beats the best other method by at least x",
    "worst": "worst N of method A",
}
state.seed("cases_metric", "Fw", "metric", parse=lambda t: t if t in metrics else None)
state.seed("cases_filter", "all", "filter", parse=lambda t: t if t in FILTERS else None)
for key in ("cases_a", "cases_b"):
    if st.session_state.get(key) not in methods:
        state.forget(key)
for key, name, fallback in (("cases_a", "a", sam_like), ("cases_b", "b", others[0] if others else methods[0])):
    _, rejected = state.seed(key, fallback, name, parse=lambda t: t if t in methods else None)
    if rejected is not None:
        st.info(f"The link names method {rejected!r} as method {name.upper()}, but it is not among the chosen "
                f"methods of {ctx.dataset_id}; using {fallback!r}.")
state.seed("cases_x", 0.0, "x", parse=float)
state.seed("cases_n", 20, "n", parse=int)
classes = sorted(wide[metrics[0]]["class"].unique())
state.seed("cases_classes", [], "classes",
           parse=lambda t: [c for c in state.split_list(t) if c in classes] or None)

top = st.columns([1, 2, 1, 1])
top[0].selectbox("Metric", metrics, key="cases_metric")
top[1].selectbox("Filter", list(FILTERS), key="cases_filter", format_func=FILTERS.get)
top[2].selectbox("Method A", methods, key="cases_a")
top[3].selectbox("Method B", methods, key="cases_b")
second = st.columns([1, 1, 2])
second[0].number_input("x (margin)", min_value=0.0, max_value=1.0, step=0.01, key="cases_x")
second[1].number_input("N (worst)", min_value=1, max_value=10000, step=1, key="cases_n")
second[2].multiselect("Classes", classes, key="cases_classes", placeholder="all classes")
metric = state.publish("cases_metric", "metric", default="Fw")
mode = state.publish("cases_filter", "filter", default="all")
a = state.publish("cases_a", "a", default=sam_like)
b = state.publish("cases_b", "b", default=others[0] if others else methods[0])
margin = float(state.publish("cases_x", "x", dump=lambda v: f"{v:g}", default=0.0))
worst_n = int(state.publish("cases_n", "n", default=20))
chosen_classes = state.publish("cases_classes", "classes", dump=",".join, default=[])

table = wide[metric]
higher = HIGHER_IS_BETTER.get(metric, True)
sign = 1.0 if higher else -1.0
values = table[list(methods)]
valid = values.notna()
lo_all = float(np.nanmin(values.to_numpy())) if valid.to_numpy().any() else 0.0
hi_all = float(np.nanmax(values.to_numpy())) if valid.to_numpy().any() else 1.0
# every metric here lies in [0, 1]; the slider spans at least that so a shared range fits
lo_all, hi_all = min(lo_all, 0.0), max(hi_all, 1.0)
range_key = f"cases_range::{metric}"
state.seed(range_key, (lo_all, hi_all), "range",
           parse=lambda t: tuple(float(v) for v in t.split("~")) if "~" in t else None)
kept_range = st.session_state[range_key]
if not isinstance(kept_range, (tuple, list)) or len(kept_range) != 2:
    kept_range = (lo_all, hi_all)
low_kept, high_kept = sorted(min(max(float(v), lo_all), hi_all) for v in kept_range)
st.session_state[range_key] = (low_kept, high_kept)
st.slider(f"{metric} of method A between", min_value=lo_all, max_value=hi_all, key=range_key, step=0.01)
low, high = state.publish(range_key, "range", dump=lambda v: f"{v[0]:g}~{v[1]:g}", default=(lo_all, hi_all))

# -- filtering (plain selection of rows; the values come from the library) --------------------------------
shown = table.copy()
mask = pd.Series(True, index=shown.index)
if chosen_classes:
    mask &= shown["class"].isin(chosen_classes)
mask &= shown[a].between(low, high) | (shown[a].isna() & (low <= lo_all) & (high >= hi_all))
if mode == "beats":
    mask &= (sign * (shown[a] - shown[b])) >= margin
elif mode == "good":
    rest = [m for m in methods if m != a]
    if not rest:
        st.info("Good cases need at least two methods.")
    else:
        best_other = shown[rest].max(axis=1) if higher else shown[rest].min(axis=1)
        mask &= (sign * (shown[a] - best_other)) >= margin
shown = shown[mask]
if mode == "worst":
    shown = shown.sort_values(a, ascending=higher, na_position="first").head(worst_n)
else:
    shown = shown.sort_values(a, ascending=not higher, na_position="last")
if mode in ("beats", "good"):
    reference = shown[b] if mode == "beats" else (shown[[m for m in methods if m != a]].max(axis=1) if higher
                                                 else shown[[m for m in methods if m != a]].min(axis=1))
    shown.insert(1, f"margin (A − {'B' if mode == 'beats' else 'best other'})", sign * (shown[a] - reference))

st.caption(f"{len(shown)} of {len(table)} images · {metric}: {'higher' if higher else 'lower'} is better · "
           f"sorted by method A ({a}) · select a row to open the image")
if a.startswith("sam") and any(s in a for s in ("oracle", "best-single", "inside-gt", "box", "point")):
    st.caption(f"† {a} looks at the ground truth: an upper bound, not a deployable result.")
selection = st.dataframe(
    shown.reset_index(), hide_index=True, key="cases_table", on_select="rerun", selection_mode="single-row",
    column_config={m: st.column_config.NumberColumn(m, format="%.3f") for m in methods}, height=360,
)

# -- the image named by the URL or the selection -----------------------------------------------------------
ids = list(table.index)
picked = None
rows = selection.selection.rows if selection is not None and hasattr(selection, "selection") else []
if rows:
    picked = shown.index[rows[0]] if rows[0] < len(shown) else None
state.seed("cases_image", None, "image", parse=lambda t: t if t in ids else None)
url_image = st.session_state.get("cases_image")
if picked is not None:
    st.session_state["cases_image"] = picked
elif url_image is None:
    text = state.url_value("image")
    if text is not None and text not in ids:
        st.info(f"The link names image {text!r}, which is not in {ctx.dataset_id}/{ctx.split}; select a row instead.")
image_id = state.publish("cases_image", "image")
if image_id is None or image_id not in ids:
    state.stop()

st.subheader(f"Image {image_id}")
sample = data.dataset(ctx.root, ctx.dataset_id, ctx.fingerprint).by_id()[image_id]
st.caption(f"class {sample.cls} · {sample.image_path.name}")
state.seed("cases_overlay", False, "overlay", parse=lambda t: t == "1")
state.seed("cases_t", 128, "t", parse=lambda t: int(t) if 1 <= int(t) <= 255 else None)
controls = st.columns([1, 3])
controls[0].toggle("TP / FP / FN overlay", key="cases_overlay")
controls[1].slider("threshold", 1, 255, key="cases_t", disabled=not st.session_state["cases_overlay"])
overlay = state.publish("cases_overlay", "overlay", dump=lambda v: "1" if v else None, default=False)
threshold = int(state.publish("cases_t", "t", default=128))
PER_ROW = 7
with ui.guard(f"image {image_id}"):
    cells = data.image_cells(ctx.root, ctx.dataset_id, image_id, methods, "overlay" if overlay else "maps", threshold,
                             ctx.fingerprint)
    for start in range(0, len(cells), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, (title, png, caption) in zip(columns, cells[start:start + PER_ROW]):
            value = wide[metric].loc[image_id, title] if title in methods else None
            label = title + ("" if value is None or pd.isna(value) else f" · {metric} {value:.3f}")
            if png is None:
                column.caption(f"{title}: no map")
            else:
                column.image(png, caption=label + (f" · {caption}" if caption else ""))
numbers = pd.DataFrame({k: [wide[k].loc[image_id, m] for m in methods] for k in metrics}, index=list(methods))
st.dataframe(numbers.style.format("{:.3f}", na_rep="no map"))
st.caption("Per-image values (pysodmetrics): Sa S-measure, MAE, Fw weighted F, adp* at the adaptive threshold, "
           "max* the maximum over 256 thresholds, IoU and Dice at the adaptive threshold.")
