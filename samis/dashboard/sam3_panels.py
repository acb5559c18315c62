"""SAM 3 on the dashboard: the Run page's prompts panel and the Masks page's instances view."""

from __future__ import annotations

import streamlit as st

from samis.dashboard import state, ui
from samis.engines import EngineSpec
from samis.errors import SamisError
from samis.sam.text_prompts import COMBINES, DEFAULT_SCORE_THRESHOLD, Sam3Request, default_vocabulary, parse_vocabulary

MODES = {"text": "text: every term on every image (deployable)",
         "text-own": "text: each image's own class name († reads the label)",
         "exemplar": "exemplar: one ground-truth box († upper bound)",
         "box": "box per ground-truth component († upper bound)",
         "point": "point per ground-truth component († upper bound)"}


def sam3_run_panel(ctx, model, checkpoint, device: str, engine: EngineSpec) -> None:
    """The Run page's SAM 3 controls: mode picker, vocabulary (the dataset's class names by default), threshold."""
    mode = st.radio("Prompt mode", list(MODES), format_func=MODES.get, key="sam3_mode")
    vocabulary: tuple[str, ...] = ()
    try:
        default = ", ".join(default_vocabulary(ctx.dataset))
    except SamisError:
        default = ""
    if mode in ("text", "text-own"):
        typed = st.text_input("Vocabulary (comma list of terms)", value=default, key="sam3_vocabulary",
                              disabled=mode == "text-own",
                              help="every term is given to every image; default: the dataset's defect class names "
                                   "(Magnetic Tile's defect-free class is not a term)")
        try:
            vocabulary = parse_vocabulary(typed if mode == "text" else default)
        except SamisError as error:
            ui.error(error)
            return
    left, right = st.columns(2)
    threshold = left.slider("Score threshold", 0.0, 1.0, DEFAULT_SCORE_THRESHOLD, 0.05, key="sam3_threshold",
                            help="instances scoring below it are dropped")
    combine = right.radio("Map", COMBINES, key="sam3_combine", horizontal=True,
                          format_func={"max": "max of score × mask", "union": "union (binary)"}.get)
    if not st.button("Run SAM 3", key="sam3_go", type="primary"):
        return
    from samis.sam.sam3_run import run_sam3_over_dataset  # torch and sam3: only when SAM 3 runs

    with ui.guard("SAM 3"):
        request = Sam3Request(mode, vocabulary, threshold, combine).checked()
        report = run_sam3_over_dataset(ctx.workspace, ctx.dataset, model, request, split=ctx.split,
                                       load=(checkpoint, device), engine=engine, progress=ui.Progress())
        st.success(ui.literal(report.summary()))


def sam3_masks_view(ctx) -> bool:
    """The Masks page's SAM 3 view (instances and scores of one image); False when the user looks at SAM masks."""
    from samis.sam3_view import sam3_image_view, sam3_images, sam3_methods  # pandas: only on this view

    methods = sam3_methods(ctx.workspace, ctx.dataset_id)
    if not methods:
        return False
    family = state.bind(st.segmented_control, "Masks of", key="masks_family", url="masks_of", default="SAM",
                        options=["SAM", "SAM 3"])
    if family != "SAM 3":
        return False
    top = st.columns(2)
    method = state.bind(top[0].selectbox, "SAM 3 method", key="sam3_method", url="sam3", default=methods[0],
                        options=methods)
    images = sam3_images(ctx.workspace, ctx.dataset_id, method)
    if not images:
        ui.notice(f"No image of {ui.literal(ctx.dataset_id)} has {ui.literal(method)} instances.")
        return True
    image_id = state.bind(top[1].selectbox, "Image", key="sam3_image", url="image", default=images[0], options=images)
    with ui.guard(f"image {image_id}"):
        view = sam3_image_view(ctx.workspace, ctx.dataset_id, method, image_id)
        # a random-weights model warned as on the SAM view (its maps are no result), the other notes as a caption
        (st.warning if "random weights" in view.note else st.caption)(ui.escaped(view.note))
        columns = st.columns(2)
        columns[0].image(ctx.dataset.by_id()[image_id].image_path.as_posix() if image_id in ctx.dataset.by_id()
                         else view.saliency, caption="image")
        columns[1].image(view.saliency, caption=f"map ({view.method})", clamp=True)
        st.dataframe(view.table, hide_index=True, key="sam3_table",
                     column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in ("score", "area %")})
    return True
