"""Inspection: pixel ROC and PRO curves, the operating point at a calibrated threshold, results by defect size."""

import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.datasets import split_names
from samis.pixel_level import CALIBRATIONS, DEFAULT_BUDGET, DEFAULT_FPR_LIMITS, PixelLevelOptions
from samis.plots import by_size_figure, pixel_roc_figure, pro_figure
from samis.tables.pixel_level import PixelLevelTable
from samis.tables.render import json_text

ctx = page_context()
st.title("Inspection")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

# -- controls -----------------------------------------------------------------------------------------
top = st.columns([1, 1, 1, 1, 1])
splits = split_names(ctx.dataset)
calibration_split = state.bind(top[0].selectbox, "Calibration split", key="insp_cal_split", url="calibration_split",
                               default="train", options=splits,
                               help="the split each method's threshold is set on (good parts of the line's data)")
calibrate = state.bind(top[1].radio, "Calibrate on", key="insp_calibrate", url="calibrate", default="pixel",
                       options=CALIBRATIONS, horizontal=True,
                       format_func={"pixel": "pixel FPR", "image": "defect-free images"}.get)
budget = state.bind(top[2].number_input, "Budget (share)", key="insp_budget", default=DEFAULT_BUDGET,
                    url=state.UrlParam("budget", parse=state.number_in(0.0001, 0.5)), min_value=0.0001, max_value=0.5,
                    step=0.005, format="%.4f",
                    help="the largest pixel FPR (or share of defect-free images flagged) allowed on the calibration "
                         "split; the threshold is the smallest one within it")
limit_url = state.UrlParam("fpr_limit", parse=lambda t: float(t) if float(t) in DEFAULT_FPR_LIMITS else None)
limit = state.bind(top[3].radio, "AUPRO limit", key="insp_limit", url=limit_url, default=DEFAULT_FPR_LIMITS[0],
                   options=DEFAULT_FPR_LIMITS, horizontal=True)
size_value = state.bind(top[4].radio, "By size", key="insp_size", url="size_value", default="found",
                        options=("found", "mean_overlap"), horizontal=True,
                        format_func={"found": "found", "mean_overlap": "mean overlap"}.get)

# -- one library call ------------------------------------------------------------------------------------
result = None
with ui.guard("inspection metrics"):
    options = PixelLevelOptions(calibrate=calibrate, budget=float(budget), calibration_split=calibration_split)
    result = data.pixel_level(ctx.root, ctx.dataset_id, ctx.split, methods, options, ctx.fingerprint)
if result is None:
    state.stop()

# -- display --------------------------------------------------------------------------------------------
table = PixelLevelTable(result)
st.caption(ui.literal(table.title))
for note in result.notes:
    st.warning(ui.escaped(note))
for method, method_result in result.methods.items():
    if method_result.missing:
        st.warning(f"{ui.literal(method)} has no map for {len(method_result.missing)} images: scored on the "
                   f"{method_result.n_images} it has.")

st.subheader("Operating point and pooled pixel metrics")
st.dataframe(result.scores_frame().set_index("method"), column_config={
    name: st.column_config.NumberColumn(name, format="%.3f")
    for name in result.scores_frame().columns if name not in ("method", "n_images", "threshold")})
st.caption("pooled over every pixel of the split; t: each method's threshold (flag score ≥ t, maps 0–255 as stored) set "
           "on the calibration split; image false alarms / misses: images with at least ceil(0.001·H·W) pixels "
           "flagged; mean_image_iou over defect images")

curves = result.curves()
left, right = st.columns(2)
left.plotly_chart(pixel_roc_figure(curves, ctx.colors, {m: r.values["pixel_auroc"] for m, r in result.methods.items()}),
                  key="insp_roc")
right.plotly_chart(pro_figure(curves, ctx.colors, float(limit),
                              {m: r.values[f"aupro/{float(limit):g}"] for m, r in result.methods.items()}),
                   key="insp_pro")

st.subheader("By defect size")
st.plotly_chart(by_size_figure(result.by_size_frame(), ctx.colors, size_value), key="insp_by_size")
st.caption("ground-truth regions (8-connected) by area in % of their image; found: overlap ≥ 0.5 at the threshold")

st.subheader("Worst missed regions")
picks = st.columns([2, 1])
region_method = state.bind(picks[0].selectbox, "Method", key="insp_region_method", url="region_method",
                           default=next(iter(result.methods)), options=list(result.methods))
regions_n = state.count_input(picks[1], "Regions", "grid_images", key="insp_regions_n", url="regions_n", default=8)
worst = result.worst_regions(region_method, int(regions_n))
chosen = result.methods[region_method]
if worst.empty:
    st.info(f"{ui.literal(region_method)} is scored on no image with a defect region.")
else:
    pngs = None
    with ui.guard("worst missed regions"):
        pngs = data.missed_region_pngs(ctx.root, ctx.dataset_id, region_method,
                                       tuple(zip(worst["image"], (int(r) for r in worst["region"]))),
                                       int(chosen.threshold), ctx.fingerprint)
    PER_ROW = 4
    for start in range(0, len(pngs or []), PER_ROW):
        for column, png, row in zip(st.columns(PER_ROW), pngs[start:start + PER_ROW],
                                    worst.iloc[start:start + PER_ROW].itertuples()):
            column.image(png, caption=f"{row.image} · region {row.region + 1} · {int(row.area)} px "
                                      f"({row.share:.2f} % of the image) · overlap {row.overlap:.2f}")
    st.caption(f"the {len(worst)} ground-truth regions (8-connected) {ui.literal(region_method)} covers least at its "
               f"threshold t = {chosen.threshold} (lowest overlap first, the largest first among equal); orange "
               "outline: the region; blue: pixels the method flags (score ≥ t)")

exports = st.columns(4)
name = f"samis-inspection-{ctx.dataset_id}-{ctx.split}".replace(":", "-")
exports[0].download_button("CSV", table.to_csv(), file_name=f"{name}.csv", mime="text/csv")
exports[1].download_button("Markdown", table.to_markdown(), file_name=f"{name}.md", mime="text/markdown")
exports[2].download_button("LaTeX", table.to_latex(), file_name=f"{name}.tex", mime="text/x-tex")
exports[3].download_button("JSON", json_text(result.to_json_dict()), file_name=f"{name}.json",
                           mime="application/json")
