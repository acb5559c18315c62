"""Prompts: clicks to a good mask (NoC, mIoU after k clicks), sloppy boxes, and boxes that need no ground truth."""

import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.sidebar import page_context
from samis.html_report import curves_section
from samis.imageio import read_rgb
from samis.prompts import views

ctx = page_context()
st.title("Prompts")
ctx.require(dataset=True)
ids = data.split_ids(ctx.root, ctx.dataset_id, ctx.split, ctx.fingerprint)
sections = []

# -- clicks ------------------------------------------------------------------------------------------------------
st.subheader("Clicks to a good mask")
st.caption("The standard interactive protocol (RITM, SimpleClick, SAM's paper): the first click at the defect pixel "
           "farthest from its boundary, each next click at the centre of the larger error (missed: positive, "
           "extra: negative); the model gets every click so far and its previous low-resolution mask. The clicks "
           "come from the ground truth: what an annotator aiming at it would do. NoC@85 / NoC@90: clicks to reach "
           "IoU 0.85 / 0.90 (an image that never does counts as the maximum); NoF: images that never do.")
runs = views.stored_click_runs(ctx.workspace, ctx.dataset_id)
results = {}
if not runs:
    st.info(f"No click run on {ui.literal(ctx.dataset_id)} yet: "
            f"{ui.literal(f'python -m samis clicks {ctx.dataset_id} --model vit_h')} "
            f"({ui.literal('--model tiny')} is the test-size SAM with random weights).")
else:
    names = [run.name for run in runs]
    picked = state.bind(st.multiselect, "Click runs", key="pr_runs", url="click_runs", default=names, options=names)
    with ui.guard("reading the click runs"):
        for run in runs:
            if run.name in picked:
                result = views.stored_click_result(run, ctx.dataset, ctx.split, ids)
                if result is not None:
                    results[run] = result
    if not results:
        st.info(f"None of the chosen runs has clicks on {ui.literal(ctx.dataset_id + '/' + ctx.split)}.")
randoms = [run for run in results if run.random_weights]
if randoms:
    st.warning(", ".join(ui.literal(run.label) for run in randoms) + ": test-size models with random weights — "
               "their clicks test the pipeline and say nothing about the model's accuracy (dotted lines).")
if results:
    figure = views.miou_figure(results)
    st.plotly_chart(figure, key="pr_miou")
    caption = (f"{ctx.dataset_id}/{ctx.split}: mean IoU after k clicks; bands: 95 % percentile bootstrap intervals "
               "(1000 resamples within defect classes). Defect-free images are skipped (counted in the table).")
    st.caption(ui.escaped(caption))
    rows = views.noc_rows(results)
    st.dataframe(rows, hide_index=True)
    sections += [curves_section([figure], "mIoU after k clicks", caption),
                 views.rows_section("NoC and NoF", rows, "NoC intervals: 95 % percentile bootstrap")]

    st.markdown("**Replay an image**")
    left, right = st.columns([1, 2])
    by_name = {run.name: run for run in results}
    replay_name = state.bind(left.selectbox, "Run", key="pr_replay_run", url="replay_run", default=next(iter(by_name)),
                             options=list(by_name))
    run = by_name[replay_name]
    clicked = [image.image for image in results[run].images]
    image_id = state.bind(left.selectbox, "Image", key="pr_image", url="image", default=clicked[0], options=clicked)
    count = len(next(image for image in results[run].images if image.image == image_id).clicks)
    k = state.bind(left.slider, "Mask after click", key="pr_k", default=1,
                   url=state.UrlParam("click", parse=state.number_in(1, max(count, 1), int)), min_value=1,
                   max_value=max(count, 2),
                   disabled=count < 2)
    with ui.guard("drawing the replay"):
        sample = ctx.dataset.sample(image_id)
        png, iou, total = views.replay_png(read_rgb(sample.image_path), run, image_id, int(k))
        right.image(png)
        replay_caption = (f"{image_id} ({sample.cls}), {run.name}: mask after click {min(int(k), total)} of {total}, "
                          f"IoU {iou:.3f}. Clicks: blue positive, vermilion negative, numbered in order."
                          + (" Random weights: not the model's accuracy." if run.random_weights else ""))
        right.caption(ui.escaped(replay_caption))
        sections.append(views.replay_section(png, replay_caption))

# -- boxes -------------------------------------------------------------------------------------------------------
st.subheader("Boxes: sloppy, and without ground truth")
box = views.box_methods(ctx.all_methods)
if not box:
    st.info(f"No box-prompted maps on {ui.literal(ctx.dataset_id)} yet: "
            f"{ui.literal(f'python -m samis sam {ctx.dataset_id} --model M --selection none --prompts box --box-jitter 0,5,10,20 --seed 0,1,2')} "
            f"(ground-truth boxes moved at random, upper bounds) or "
            f"{ui.literal('… --prompts box --prompt-source METHOD')} (boxes of another method's maps, no ground truth).")
else:
    random_boxes = views.random_weight_box_models(box)
    if random_boxes:
        st.warning(", ".join(ui.literal(label) for label in random_boxes) + ": test-size models with random weights — "
                   "their box maps test the pipeline and say nothing about the model's accuracy.")
    with ui.guard("scoring the box methods"):
        evaluation = data.evaluation(ctx.scope(box))
        points = views.jitter_points(evaluation)
        if points:
            jitter = views.jitter_figure(points)
            st.plotly_chart(jitter, key="pr_jitter")
            jitter_caption = ("Mean IoU (at the adaptive threshold, as the evaluation scores every method) against the "
                              "box jitter P: each side of each ground-truth box moved by a uniform draw in ±P % of the "
                              "box's width / height; bars span the seeds. † every point uses ground-truth boxes.")
            st.caption(ui.escaped(jitter_caption))
            sections.append(curves_section([jitter], "Box jitter", jitter_caption))
        rows = views.box_rows(evaluation, box)
        st.dataframe(rows, hide_index=True)
        box_caption = ("† upper bounds: the boxes come from the ground truth. Rows without † take their boxes from "
                       "another method's maps (regions ≥ 128, 8-connected, the image-level minimum area): deployable.")
        st.caption(ui.escaped(box_caption))
        sections.append(views.rows_section("Box-prompted methods", rows, box_caption))

if sections:
    ui.download_view("prompts", f"Prompts: {ctx.dataset_id} / {ctx.split}", lambda: sections, ctx.dataset_id,
                     ctx.split, "Prompts")
