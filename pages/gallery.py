"""Gallery: qualitative grids like the paper's figures 5–9 (image | ground truth | each method)."""

import streamlit as st

from samis.cases import GALLERY_PICKS, gallery_images
from samis.dashboard import data, state, ui
from samis.dashboard import review as review_ui
from samis.dashboard.sidebar import page_context
from samis.figures import MODES, OVERLAY_LEGEND
from samis.html_report import grid_section
from samis.methods import upper_bound_methods

ctx = page_context()
st.title("Gallery")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

ids = data.split_ids(ctx.root, ctx.dataset_id, ctx.split, ctx.fingerprint)
by_id = ctx.dataset.by_id()
SHOW = {"maps": "saliency maps", "binary": "maps binarised at the threshold",
        "overlay": "overlay: TP blue, FP vermilion, FN yellow"}

OPTIONS = 2000  # image ids offered to choose from; a larger split offers its first ones and those already named


def choosable(ids: list[str]) -> list[str]:
    """The ids the chooser offers: all of a small split; of a large one (150,000 images) the first OPTIONS and any
    the link or the session names, so the widget stays small and every link keeps working."""
    if len(ids) <= OPTIONS:
        return ids
    named = set(state.split_list(st.query_params.get("images", ""))) | set(st.session_state.get("gal_images") or ())
    first = ids[:OPTIONS]
    return first + sorted(named.intersection(ids).difference(first))


left, middle, right = st.columns(3)
pick = state.bind(left.radio, "Images", key="gal_pick", url="images_by", default="first", options=GALLERY_PICKS,
                  format_func=GALLERY_PICKS.get)
rows, seed, chosen = min(3, len(ids)), 0, []
if pick == "chosen":
    chosen = state.bind(left.multiselect, "Image ids", key="gal_images", url="images", default=[],
                        options=choosable(ids), max_selections=24)
else:
    rows = state.count_input(left, "Rows", "gallery_rows", key="gal_rows", url="rows", default=min(3, len(ids)))
if pick == "random":
    seed = state.bind(left.number_input, "Seed", key="gal_seed",
                      url=state.UrlParam("seed", parse=state.number_in(0, 2**31 - 1, int)), default=0, min_value=0,
                      step=1)
mode = state.bind(middle.radio, "Show", key="gal_mode", url="mode", default="maps", options=MODES,
                  format_func=SHOW.get)
threshold = state.bind(right.slider, "Threshold (for binary and overlay)", key="gal_t",
                       url=state.UrlParam("threshold", parse=state.number_in(1, 255, int)), default=128, min_value=1,
                       max_value=255, disabled=mode == "maps")
CELL_SIZES = (96, 128, 160, 200, 256, 320)
cell = state.bind(right.select_slider, "Cell size (px)", key="gal_cell",
                  url=state.UrlParam("cell", parse=lambda t: int(t) if int(t) in CELL_SIZES else None), default=160,
                  options=CELL_SIZES)

image_ids = gallery_images(ids, {i: by_id[i].cls for i in ids}, pick, int(rows), seed=int(seed), chosen=chosen)
image_ids = review_ui.gallery_set(ctx.root, ctx.dataset_id, ids, image_ids)  # a review set, when one is chosen
if not image_ids:
    st.info("Choose images above.")
    state.stop()

upper = upper_bound_methods(methods)
with ui.guard("drawing the grid"):
    png = data.grid_png(ctx.root, ctx.dataset_id, tuple(image_ids), methods, mode, int(threshold), int(cell),
                        ctx.fingerprint)
    st.image(png)
    st.caption(f"{ui.literal(ctx.dataset_id + '/' + ctx.split)}: {len(image_ids)} images × {len(methods)} methods"
               + (f" · threshold {threshold}" if mode != "maps" else "")
               + (f" · {OVERLAY_LEGEND} (colour-blind safe)" if mode == "overlay" else ""))
    if upper:
        st.caption(f"† {', '.join(ui.literal(m) for m in upper)}: upper bounds, they look at the ground truth.")
    st.download_button("Download the grid (PNG)", png, file_name=f"samis-grid-{ctx.dataset_id}.png".replace(":", "-"),
                       mime="image/png")
    caption = f"{ctx.dataset_id}/{ctx.split}: {len(image_ids)} images × {len(methods)} methods, {SHOW[mode]}" + (
        f", threshold {threshold}" if mode != "maps" else "")
    ui.download_view("gallery", f"Gallery: {ctx.dataset_id} / {ctx.split}", lambda: [grid_section(
        png, [(i, by_id[i].cls) for i in image_ids], methods, caption)], ctx.dataset_id, ctx.split, "Gallery")
