"""Run: compute predictions (SAM, built-in baselines) or import a folder of maps.

Every run writes one map per image as it goes, so a closed tab or a rerun stops between two images
and the next run continues from there. Typed paths must lie inside the allowed folders.
"""

import streamlit as st

from samis.dashboard import data, state, ui
from samis.dashboard.paths import check_allowed
from samis.dashboard.sidebar import page_context
from samis.errors import SamisError
from samis.workspace import validate_name

ctx = page_context()
st.title("Run")
ctx.require(dataset=True)
dataset_splits = list(dict.fromkeys(["all", "train", "test", ctx.split]))

TABS = ["SAM", "Baselines", "Import"]
state.seed("run_tab", "SAM", "tab", parse=lambda t: t if t in TABS else None)
tab = st.segmented_control("What to run", TABS, key="run_tab") or "SAM"
state.publish("run_tab", "tab", default="SAM")
st.caption(f"Dataset **{ctx.dataset_id}**, split **{ctx.split}** (change them in the sidebar).")


def _done(message: str) -> None:
    st.success(message)
    st.caption("The other pages pick the new maps up at once (their caches are keyed by the workspace content).")


# -- SAM ---------------------------------------------------------------------------------------------------------
if tab == "SAM":
    if not data.module_available("samis.sam"):
        st.info("The SAM engine (samis.sam) is not available in this installation yet.")
        state.stop()
    st.info("SAM runs: waiting for the engine.")

# -- baselines --------------------------------------------------------------------------------------------------
elif tab == "Baselines":
    if not data.module_available("samis.baselines"):
        st.info("The built-in baselines (samis.baselines) are not available in this installation yet.")
        state.stop()
    from samis.baselines import BASELINES
    from samis.baselines.run import compute_baseline

    st.markdown("Classical, training-free saliency methods; each becomes a method in the prediction store.")
    st.dataframe([{"method": b.name, "title": b.title, "reference": b.reference} for b in BASELINES.values()],
                 hide_index=True)
    chosen = st.multiselect("Baselines", list(BASELINES), default=list(BASELINES), key="bl_methods")
    if st.button("Compute", key="bl_go", type="primary"):
        for name in chosen:
            progress = ui.Progress(f"{name} on {ctx.dataset_id}/{ctx.split}")
            with ui.guard(name):
                run = compute_baseline(ctx.workspace, ctx.dataset, name, split=ctx.split, progress=progress)
                _done(run.summary())

# -- import -------------------------------------------------------------------------------------------------------
else:
    from samis.store import import_predictions

    st.markdown("Copy a folder of saliency maps (PNG/JPG/BMP, named like the images) into the store as a method. "
                "Maps are resized to the ground truth when needed; the new folder replaces the old one only "
                "once every file is written.")
    st.caption("Allowed folders: " + ", ".join(f"`{r}`" for r in ctx.roots))
    method = st.text_input("Method name", placeholder="e.g. MCITF", key="imp_method")
    folder = st.text_input("Folder of maps", placeholder=str(ctx.roots[0] / "incoming" / "MCITF"), key="imp_folder")
    skip = st.checkbox("Skip unreadable files (list them instead of refusing)", key="imp_skip")
    if st.button("Import", key="imp_go", type="primary"):
        try:
            validate_name("method", method.strip())
            source = check_allowed(folder, ctx.roots, "prediction folder")
        except SamisError as error:
            st.error(str(error))
        else:
            progress = ui.Progress(f"importing {method}")
            with ui.guard("import"):
                report = import_predictions(ctx.workspace, ctx.dataset, method.strip(), source,
                                            skip_unreadable=skip, progress=progress)
                _done(f"Imported {report.matched} maps of {method!r}.")
                st.code(report.summary(), language="text")
                if report.missing:
                    st.warning(f"{len(report.missing)} images have no map: {method} is partial and is scored "
                               "on the images it has.")
