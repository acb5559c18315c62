"""Run: compute predictions (SAM, built-in baselines) or import a folder of maps.

Every run writes one map per image as it goes, so a closed tab or a rerun stops between two images
and the next run continues from there. Typed paths must lie inside the allowed folders.
"""

import streamlit as st

from samis.baselines import BASELINES
from samis.baselines.run import compute_baseline
from samis.counts import COUNTS
from samis.dashboard import data, state, ui
from samis.dashboard.paths import check_allowed
from samis.dashboard.sam3_panels import sam3_run_panel
from samis.dashboard.sidebar import page_context
from samis.engines import ENGINES, EngineSpec, engine_session
from samis.errors import SamisError
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES, sam_method_id
from samis.models import MODEL_CHOICES, RUNNABLE_MODELS, SAM_CHECKPOINTS_HELP, ModelSpec, get_model
from samis.sam.params import GENERATOR_PARAMS, GeneratorParam
from samis.workspace import validate_name

ctx = page_context()
st.title("Run")
ctx.require(dataset=True)
if ctx.read_only:  # not in the navigation then; a page reached another way still runs nothing
    ui.notice("This server is read-only: it serves results and runs nothing.")
    state.stop()

TABS = ["SAM", "Baselines", "Import"]
tab = state.bind(st.segmented_control, "What to run", key="run_tab", url="tab", default="SAM", options=TABS)
st.caption(f"Dataset {ui.literal(ctx.dataset_id)}, split {ui.literal(ctx.split)} (change them in the sidebar).")


def _engine_choice(gpus: bool) -> EngineSpec:
    """Where SAM or the baselines run: here (local) or on Ray (a cluster's address, or a Ray started here).

    Never drawn on a read-only server: the page stops above.
    """
    where = state.bind(st.segmented_control, "Where it runs", key="run_engine", url="engine", default="local",
                       options=list(ENGINES), format_func=lambda e: {"local": "this machine", "ray": "Ray"}[e],
                       help="Ray: workers on a cluster (or a Ray started here for the run); this server still "
                            "reads every image and writes every file, so results are the same byte for byte")
    if where != "ray":
        return EngineSpec()
    cols = st.columns(3 if gpus else 2)
    address = cols[0].text_input("Ray address", key="run_ray_address", placeholder="empty: a local Ray on this machine",
                                 help="HOST:PORT printed by `ray start --head` on the head node")
    workers = cols[1].number_input("Workers", COUNTS["workers"].low, COUNTS["workers"].high, None, key="run_ray_workers",
                                   placeholder="one per GPU / CPU", help=COUNTS["workers"].why)
    per_gpu = (cols[2].number_input("GPUs per worker", 0.0, 64.0, None, 0.25, key="run_ray_gpus",
                                    placeholder="1 with GPUs, else 0") if gpus else None)
    return EngineSpec("ray", address.strip() or None, int(workers) if workers else None, per_gpu)


def _done(message: str) -> None:
    st.success(message)
    st.caption("The other pages pick the new maps up at once (their caches are keyed by the workspace content).")


# -- SAM ---------------------------------------------------------------------------------------------------------
def _checkpoint_help(model: ModelSpec) -> str:
    folder = ui.literal(str(ctx.workspace.checkpoints_dir))
    if model.code.backend and not model.runs_on_sam2:  # HQ-SAM, EfficientViT-SAM: the registry's facts
        tiny = next(m.key for m in RUNNABLE_MODELS.values() if m.code is model.code and m.random_weights)
        return (f"{model.title} needs its checkpoint **{model.checkpoint}**. Put it in {folder} (the picker lists "
                f"`.pt` and `.pth` files there), or type its path if it lies inside the allowed folders. It comes "
                f"from {model.url} ({model.code.source}; hash {model.code.hash_status}). Without a checkpoint, "
                f"`{tiny}` runs the test-size {model.family_title} with random weights — it exercises the pipeline, "
                f"its numbers are not {model.family_title}'s.")
    if model.runs_on_sam2:
        return (f"{model.title} needs its checkpoint **{model.checkpoint}**. Put it in "
                f"{folder} (the picker lists `.pt` and `.pth` files there), or "
                f"type its path if it lies inside the allowed folders. It comes from the SAM 2.1 release: {model.url}. "
                "Without a checkpoint, `tiny-sam2` runs the test-size SAM 2 with random weights — it exercises the "
                "pipeline, its numbers are not SAM 2.1's.")
    return (f"SAM {model.key} needs its checkpoint **{model.checkpoint}**. Put it in "
            f"{folder} (the picker lists `.pth` files there), or type its path "
            f"if it lies inside the allowed folders. It comes from the Segment Anything release: {model.url} "
            f"(see {SAM_CHECKPOINTS_HELP}). Without a checkpoint, `tiny` runs the test-size SAM with random weights — "
            "it exercises the pipeline, its numbers are not SAM's.")


def _offer_download(model: ModelSpec, folder) -> None:
    """A "Download" button for the official checkpoint when the workspace lacks it (never on a read-only server)."""
    from samis.checkpoint_download import download_checkpoint, md5_cache_file

    if ctx.read_only or (folder / model.checkpoint).is_file():
        return
    if model.key == "sam3":  # gated on Hugging Face: the user's own token, through huggingface_hub
        from samis.sam3_download import download_sam3

        if st.button(f"Download {model.checkpoint} ({model.size_text}, gated)", key="sam_ckpt_download",
                     help="from huggingface.co/facebook/sam3 with your own Hugging Face token (HF_TOKEN or "
                          "`hf auth login`); samis never stores it"):
            with ui.guard("download"):
                st.success(ui.literal(download_sam3(folder).summary()))
        return
    if st.button(f"Download {model.checkpoint} ({model.size_text})", key="sam_ckpt_download",
                 help=f"from {model.url} (or $SAMIS_CHECKPOINT_MIRROR) into {folder}; resumes an interrupted "
                      "download; size and hash are checked before the file is put in place"):
        with ui.guard("download"):
            report = download_checkpoint(model.key, folder, progress=ui.Progress(),
                                         hash_cache=md5_cache_file(ctx.workspace))
            st.success(ui.literal(report.summary()))


def _pick_checkpoint(model: ModelSpec) -> str | None:
    """The checkpoint file a user picked or typed, checked; None (with the reason shown) when there is none yet."""
    folder = ctx.workspace.checkpoints_dir
    _offer_download(model, folder)
    found = sorted(str(p) for pattern in ("*.pth", "*.pt") for p in folder.glob(pattern)) if folder.is_dir() else []
    TYPED = "type a path…"
    pick = st.selectbox("Checkpoint", found + [TYPED], key="sam_ckpt_pick", help=f"checkpoints found in {folder}")
    if pick == TYPED:
        typed = st.text_input("Checkpoint path", key="sam_ckpt_path", placeholder=str(folder / model.checkpoint))
        if not typed.strip():
            st.info(_checkpoint_help(model))
            return None
        try:
            pick = str(check_allowed(typed, ctx.roots, "checkpoint"))
        except SamisError as error:
            ui.error(error)
            return None
    from samis.sam.checkpoints import check_checkpoint_file

    try:
        check_checkpoint_file(pick, model)
    except SamisError as error:
        ui.error(error)
        st.info(_checkpoint_help(model))
        return None
    return pick


def _param_control(column, param: GeneratorParam, default):
    """One generator parameter's control, from its declaration (range, default, help)."""
    key = f"amg_{param.name}"
    if param.kind is bool:
        return column.checkbox(param.name, default, key=key, help=param.help)
    step = param.step if param.kind is float else 1
    kind = param.kind
    low = None if param.low is None else kind(param.low)
    high = None if param.high is None else kind(param.high)
    return column.number_input(param.name, low, high, kind(default), step, key=key,
                               help=f"{param.help}; {param.range_text()}")


def _generator_params(model: ModelSpec) -> dict:
    """The generator parameters of a model's family, one control each, at its family's defaults."""
    sam2 = model.runs_on_sam2
    title = ("SAM2AutomaticMaskGenerator parameters (its defaults)" if sam2
             else "Automatic mask generator parameters (SAM's defaults, as in the paper)")
    with st.expander(title):
        cols = st.columns(3)
        hq = "hq_token_only" in model.params_class.__dataclass_fields__
        offered = [p for p in GENERATOR_PARAMS if (sam2 or not p.sam2_only) and (hq or not p.hq_only)]
        values = {p.name: _param_control(cols[i % 3], p, p.default_for(sam2)) for i, p in enumerate(offered)}
        values["keep_embeddings"] = model.supports_embedding_cache and st.checkbox(
            "Keep image embeddings", key="amg_keep_emb",
            help="stores each image's encoder output beside the masks (about 4 MB per image for ViT-H), so a "
                 "later run with other thresholds skips the image encoder (`--cache-embeddings`)")
    return values


def _sam_tab() -> None:
    left, right = st.columns(2)
    model = get_model(left.selectbox("Model", list(MODEL_CHOICES), index=list(MODEL_CHOICES).index("vit_h"),
                                     key="sam_model", format_func=lambda m: f"{m} ({get_model(m).title})"))
    device = right.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="sam_device")
    checkpoint = None
    if model.needs_checkpoint:
        checkpoint = _pick_checkpoint(model)
        if checkpoint is None:
            return
    if "text" in model.prompt_modes:  # SAM 3: concept prompts, no automatic masks to select from
        sam3_run_panel(ctx, model, checkpoint, device, _engine_choice(gpus=True))
        return
    values = _generator_params(model)
    keep_embeddings = values.pop("keep_embeddings")
    uses_ground_truth = {**SELECTION_STRATEGIES, **PROMPT_KINDS}
    chosen = st.multiselect("Selection strategies (masks → one saliency map per image)", list(uses_ground_truth),
                            default=["oracle"], key="sam_strategies",
                            format_func=lambda s: f"{s} (upper bound: uses the ground truth)" if uses_ground_truth[s] else s)
    engine = _engine_choice(gpus=True)
    if not st.button("Run SAM", key="sam_go", type="primary"):
        return
    try:
        params = model.params(values)
    except SamisError as error:
        ui.error(error)
        return
    with ui.guard("SAM"), data.model_cache().using():  # the run's models stay loaded (leased) while it runs
        _run_sam(model, params, checkpoint, device, keep_embeddings, chosen, engine)


def _run_sam(model: ModelSpec, params, checkpoint, device: str, keep_embeddings: bool, chosen: list[str],
             engine: EngineSpec) -> None:
    from samis.sam.run import SamRun, run_sam_over_dataset, write_sam_maps  # torch: only when SAM runs

    with st.status(f"SAM {model.key} on {ctx.dataset_id}/{ctx.split} ({ui.literal(engine.describe())})",
                   expanded=True) as box:
        if engine.is_local:  # Ray workers load their own model
            data.loaded_model(model, checkpoint, device, _hash_cache())
        run = SamRun(model, params, checkpoint=checkpoint, device=device, cache_embeddings=keep_embeddings)
        report = run_sam_over_dataset(ctx.workspace, ctx.dataset, run, split=ctx.split, progress=ui.Progress(),
                                      notify=lambda message: st.warning(ui.literal(message)), engine=engine)
        st.markdown(ui.literal(report.summary()))
        for how in chosen:
            written = write_sam_maps(ctx.workspace, ctx.dataset, model, how, split=ctx.split,
                                     checkpoint=checkpoint, device=device, progress=ui.Progress())
            st.text(written.summary())
        box.update(label=f"SAM {model.key}: done", state="complete")
    _done("Masks cached per image; selected maps written as methods " +
          ", ".join(sam_method_id(model.key, how) for how in chosen) + ".")


def _hash_cache() -> str:
    """The workspace file where checkpoint MD5s are remembered."""
    from samis.sam.run import hash_cache_file

    return str(hash_cache_file(ctx.workspace))


if tab == "SAM":
    _sam_tab()

# -- baselines --------------------------------------------------------------------------------------------------
elif tab == "Baselines":
    st.markdown("Classical, training-free saliency methods; each becomes a method in the prediction store.")
    st.dataframe([{"method": b.name, "title": b.title, "reference": b.reference} for b in BASELINES.values()],
                 hide_index=True)
    chosen = st.multiselect("Baselines", list(BASELINES), default=list(BASELINES), key="bl_methods")
    engine = _engine_choice(gpus=False)
    if st.button("Compute", key="bl_go", type="primary"):
        with ui.guard("Ray" if not engine.is_local else "the baselines"), engine_session(engine):  # one Ray for all
            for name in chosen:
                progress = ui.Progress()
                with ui.guard(name):
                    run = compute_baseline(ctx.workspace, ctx.dataset, name, split=ctx.split, progress=progress,
                                           engine=engine)
                    _done(run.summary())

# -- import -------------------------------------------------------------------------------------------------------
else:
    from samis.store import import_predictions

    st.markdown("Copy a folder of saliency maps (PNG/JPG/BMP, named like the images) into the store as a method. "
                "Maps are resized to the ground truth when needed; the new folder replaces the old one only "
                "once every file is written.")
    st.caption("Allowed folders: " + ", ".join(ui.literal(str(r)) for r in ctx.roots))
    method = st.text_input("Method name", placeholder="e.g. MCITF", key="imp_method")
    folder = st.text_input("Folder of maps", placeholder=str(ctx.roots[0] / "incoming" / "MCITF"), key="imp_folder")
    skip = st.checkbox("Skip unreadable files (list them instead of refusing)", key="imp_skip")
    if st.button("Import", key="imp_go", type="primary"):
        try:
            validate_name("method", method.strip())
            source = check_allowed(folder, ctx.roots, "prediction folder")
        except SamisError as error:
            ui.error(error)
        else:
            progress = ui.Progress()
            with ui.guard("import"):
                report = import_predictions(ctx.workspace, ctx.dataset, method.strip(), source,
                                            skip_unreadable=skip, progress=progress)
                _done(f"Imported {report.matched} maps of {method!r}.")
                st.code(report.summary(), language="text")
                if report.missing:
                    st.warning(f"{len(report.missing)} images have no map: {ui.literal(method)} is partial and is scored "
                               "on the images it has.")
