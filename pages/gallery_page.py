"""Gallery: qualitative grids like the paper's figures 5–9 (image | ground truth | each method)."""

import numpy as np
import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.figures import MODES

ctx = page_context()
st.title("Gallery")
ctx.require(dataset=True, methods=True)
methods = tuple(ctx.methods)

ids = data.split_ids(ctx.root, ctx.dataset_id, ctx.split, ctx.fingerprint)
by_id = ctx.dataset.by_id()
classes = sorted({by_id[i].cls for i in ids})
PICKS = {"first": "first of each class", "random": "random (seeded)", "chosen": "chosen images"}
state.seed("gal_pick", "first", "pick", parse=lambda t: t if t in PICKS else None)
state.seed("gal_rows", min(3, len(ids)), "rows", parse=lambda t: int(t) if 1 <= int(t) <= 24 else None)
state.seed("gal_seed", 0, "seed", parse=int)
state.seed("gal_images", [], "images", parse=lambda t: [i for i in state.split_list(t) if i in ids] or None)
state.seed("gal_mode", "maps", "mode", parse=lambda t: t if t in MODES else None)
state.seed("gal_t", 128, "t", parse=lambda t: int(t) if 1 <= int(t) <= 255 else None)
state.seed("gal_cell", 160, "cell", parse=lambda t: int(t) if 64 <= int(t) <= 400 else None)

left, middle, right = st.columns(3)
left.radio("Images", list(PICKS), key="gal_pick", format_func=PICKS.get)
pick = state.publish("gal_pick", "pick", default="first")
if pick == "chosen":
    left.multiselect("Image ids", ids, key="gal_images", max_selections=24)
else:
    left.number_input("Rows", min_value=1, max_value=24, key="gal_rows")
if pick == "random":
    left.number_input("Seed", min_value=0, step=1, key="gal_seed")
middle.radio("Show", list(MODES), key="gal_mode", format_func={
    "maps": "saliency maps", "binary": "maps binarised at the threshold",
    "overlay": "overlay: TP green, FP red, FN blue"}.get)
right.slider("Threshold (for binary and overlay)", 1, 255, key="gal_t",
             disabled=st.session_state["gal_mode"] == "maps")
right.select_slider("Cell size (px)", [96, 128, 160, 200, 256, 320], key="gal_cell")
rows_n = int(state.publish("gal_rows", "rows", default=min(3, len(ids))))
seed = int(state.publish("gal_seed", "seed", default=0))
chosen = state.publish("gal_images", "images", dump=",".join, default=[])
mode = state.publish("gal_mode", "mode", default="maps")
threshold = int(state.publish("gal_t", "t", default=128))
cell = int(state.publish("gal_cell", "cell", default=160))
if pick != "chosen":
    state.declare("images", None)
if pick != "random":
    state.declare("seed", None)

if pick == "chosen":
    image_ids = list(chosen)
    if not image_ids:
        st.info("Choose images above.")
        state.stop()
elif pick == "random":
    rng = np.random.default_rng(seed)
    image_ids = [ids[i] for i in sorted(rng.choice(len(ids), size=min(rows_n, len(ids)), replace=False))]
else:
    # round-robin over classes, like the paper's figures that show each defect kind
    per_class = {c: [i for i in ids if by_id[i].cls == c] for c in classes}
    image_ids = []
    depth = 0
    while len(image_ids) < min(rows_n, len(ids)):
        for c in classes:
            if depth < len(per_class[c]) and len(image_ids) < rows_n:
                image_ids.append(per_class[c][depth])
        depth += 1

upper = [m for m in methods if m.startswith("sam") and any(s in m for s in ("oracle", "best-single", "inside-gt", "+box", "+point"))]
with ui.guard("drawing the grid"):
    png = data.grid_png(ctx.root, ctx.dataset_id, tuple(image_ids), methods, mode, threshold, cell, ctx.fingerprint)
    st.image(png)
    st.caption(f"{ctx.dataset_id}/{ctx.split}: {len(image_ids)} images × {len(methods)} methods"
               + (f" · threshold {threshold}" if mode != "maps" else "")
               + (" · green: true positive, red: false positive, blue: false negative" if mode == "overlay" else ""))
    if upper:
        st.caption(f"† {', '.join(upper)}: upper bounds, they look at the ground truth.")
    st.download_button("Download the grid (PNG)", png, file_name=f"samis-grid-{ctx.dataset_id}.png".replace(":", "-"),
                       mime="image/png")
