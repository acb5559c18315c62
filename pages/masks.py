"""Masks: every cached SAM mask of one image, and what each selection made of it (the paper's Fig. 4)."""

import streamlit as st

from samis.dashboard import data, hints, state, ui
from samis.dashboard.sam3_panels import sam3_masks_view
from samis.dashboard.sidebar import page_context
from samis.mask_explorer import (GT_COLUMN, GT_NOTE, cached_images, cached_models, compute_command, resolve_model,
                                 selection_command)
from samis.methods import sam_model_of
from samis.models import RUNNABLE_MODELS, SAM_MODELS

ctx = page_context()
st.title("Masks")
ctx.require(dataset=True)
st.caption("SAM returns dozens of masks per image; a selection unites or negates some of them into one map. "
           "Masks are read from the cache, never recomputed.")

if sam3_masks_view(ctx):  # SAM 3's instances and scores: its own view
    state.stop()
models = cached_models(ctx.workspace, ctx.dataset_id)
if not models:
    ui.notice(hints.no_masks(ctx.read_only, ctx.dataset_id, compute_command(ctx.dataset_id, SAM_MODELS['vit_h'])))
    state.stop()
titles = {m.label: m.title for m in RUNNABLE_MODELS.values()}


def _fallback(what: str, fallback: str):
    return lambda text: ui.notice(f"The link names {what} {ui.literal(repr(text))}, which has no cached masks on "
                                  f"{ui.literal(ctx.dataset_id)}; showing {ui.literal(repr(fallback))}.")


top = st.columns([1, 1, 1])
model_url = state.UrlParam(
    "model", rejected=_fallback("model", models[0]),
    parse=lambda t: next((m for m in models if getattr(sam_model_of(t), 'label', None) == m), None))
model = state.bind(top[0].selectbox, "Model", key="masks_model", url=model_url, default=models[0], options=models,
                   format_func=lambda m: f"{m} ({titles.get(m, m)})")
found = resolve_model(model)
if found.random_weights:
    st.warning(f"{ui.literal(found.label)} is a test-size model with random weights: its masks test the pipeline, "
               f"they say nothing about {found.family_title}.")
images = cached_images(ctx.workspace, ctx.dataset_id, model)
in_dataset = set(ctx.dataset.by_id())
images = [i for i in images if i in in_dataset]
if not images:
    ui.notice(f"No image of {ui.literal(ctx.dataset_id)} has {ui.literal(model)} masks; compute them with "
              f"{ui.literal(compute_command(ctx.dataset_id, found))}.")
    state.stop()
image_id = state.bind(top[1].selectbox, "Image", key="masks_image", default=images[0], options=images,
                      url=state.UrlParam("image", rejected=_fallback("image", images[0])))

cache_key = data.mask_cache_key(ctx.root, ctx.dataset_id, image_id, model)
explorer = None
with ui.guard(f"image {image_id}"):
    explorer = data.mask_explorer(ctx.root, ctx.dataset_id, image_id, model, cache_key, ctx.fingerprint)
if explorer is None:
    state.stop()
for note in explorer.notes:
    ui.notice(ui.escaped(note))

strategies = [v.how for v in explorer.selections]
strategy = None
if strategies:
    strategy = state.bind(top[2].selectbox, "Selection", key=f"masks_strategy::{model}", url="strategy",
                          default="oracle" if "oracle" in strategies else strategies[0], options=strategies)
else:
    # the masks are shown below: this is a hint, not an empty page; the command keeps these masks' thresholds
    top[2].caption("No selection written from these masks yet: "
                   f"{ui.literal(selection_command(ctx.dataset_id, found, explorer.provenance.get('params')))} "
                   "writes the oracle's.")
n = len(explorer.mask_set)
everything = list(range(n))


def _parse_shown(text: str):
    shown = sorted({int(x) for x in state.split_list(text) if x.isdigit() and int(x) < n})
    return shown or None


shown = state.bind(st.multiselect, f"Shown masks ({n} cached; remove any to hide it)", key=f"masks_shown::{model}::{image_id}",
                   url=state.UrlParam("shown", parse=_parse_shown, dump=lambda v: ",".join(str(i) for i in v)),
                   default=everything, options=everything, placeholder="no mask shown")

pictures = None
with ui.guard("drawing the masks"):
    pictures = data.mask_pictures(ctx.root, ctx.dataset_id, image_id, model, strategy, tuple(shown), cache_key,
                                  ctx.fingerprint)
if pictures is None:
    state.stop()

view = explorer.selection(strategy) if strategy else None
columns = st.columns(4)
columns[0].image(pictures["all"], caption=f"{len(shown)} of {n} masks (random colours, as SAM's demo)")
if view is not None:
    columns[1].image(pictures["chosen"], caption=f"chosen by {strategy}: filled = used, magenta outline + hatching "
                                                   "= negated (everything outside it)")
    columns[2].image(view.saliency, caption=f"resulting map ({view.method})")
if explorer.gt is not None:
    columns[3].image(explorer.gt.astype("uint8") * 255, caption="ground truth")

if view is not None:
    st.subheader(f"{ui.literal(view.method)}")
    if view.note:
        st.caption(ui.escaped(view.note))
    record = view.record
    if record is None:
        ui.notice(ui.escaped(view.record_note))
    elif record.kind == "prompt":
        st.text(f"prompts from the ground truth ({record.details.get('components', 0)} components): "
                f"{record.prompts.get('boxes') or record.prompts.get('points')}; "
                "SAM was prompted again, so these masks are not in the cache")
    else:
        negated = set(record.negated)
        used = [i for i in record.chosen if i not in negated]
        score = "–" if record.score is None else f"{record.score:.4f}"
        st.text(("whole image · " if record.whole_image else "")
                + f"masks used: {used or 'none'} · negated: {sorted(negated) or 'none'} · "
                f"{record.score_name}: {score}" + (" (uses the ground truth)" if record.uses_ground_truth else ""))
    if view.metrics:
        ui.show_scores(view.metrics, view.method)
    st.download_button("Download the Fig. 4 figure (PNG)", pictures["figure"],
                       file_name=f"samis-masks-{ctx.dataset_id}-{image_id}-{strategy}.png".replace(":", "-"),
                       mime="image/png", key="masks_figure_download")

st.subheader("Masks in the cache")
st.caption(f"{n} masks in the generator's order (best predicted IoU first) · {GT_NOTE} · "
           f"chosen by: ¬ marks a negated mask")
table = explorer.table_of(shown)
st.dataframe(table, hide_index=True, key="masks_table", height=min(600, 35 * (len(table) + 1) + 3),
             column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                            for c in ("predicted IoU", "stability", "area %", GT_COLUMN)})
