"""Overview: registered datasets, which predictions exist where, the paper's tables, how to add data."""

import streamlit as st

from samis.dashboard import data, hints, state, ui
from samis.dashboard.coverage import coverage_matrix
from samis.dashboard.sidebar import page_context
from samis.paper import PAPER_TABLES
from samis.metric_card import metric_card, pysodmetrics_version
from samis.methods import random_weight_methods, upper_bound_methods
from samis.tables import ComparisonQuery, comparison_rows

ctx = page_context()
st.title("samis — SAM on industrial surface defects")
st.caption("Reproduces and extends Song et al. 2024, *SAM Era: Can It Segment Any Industrial Surface Defects?*")

if ctx.workspace is not None:
    st.markdown(f"Workspace: {ui.literal(str(ctx.workspace.root))}")
    with ui.guard("reading the workspace"):
        statuses, cells = data.coverage(ctx.root, data.fingerprint(ctx.root))
        st.subheader("Datasets")
        if not statuses:
            st.info(hints.no_dataset(ctx.read_only))
        else:
            rows = []
            for s in statuses:
                rows.append({
                    "dataset": s.id, "layout": s.layout,
                    "images": s.images if s.images is not None else "—",
                    "classes": ", ".join(f"{c} {n}" for c, n in s.classes.items()) or "—",
                    "splits": ", ".join(f"{k} {v}" for k, v in s.splits.items() if k != "all") or "made on first use",
                    "folder": str(s.path),
                    "status": s.error or "ok",
                })
            st.dataframe(rows, hide_index=True)
            for s in statuses:
                if s.error:
                    st.error(f"Dataset {ui.literal(repr(s.id))}: {s.error}")

        st.subheader("Predictions: methods × datasets")
        matrix = coverage_matrix(cells)
        if matrix.empty:
            st.info(hints.no_predictions(ctx.read_only))
        else:
            bounds = upper_bound_methods(matrix.index)
            randoms = random_weight_methods(matrix.index)
            matrix.index = [m + (" †" if m in bounds else "") for m in matrix.index]
            matrix.index.name = "method"
            st.dataframe(matrix)
            if bounds:
                st.caption("† upper bound: the strategy looks at the ground truth ("
                           + ", ".join(ui.literal(m) for m in bounds) + ")")
            if randoms:
                st.caption(", ".join(ui.literal(m) for m in randoms) + ": the test-size SAM with random weights — "
                           "it exercises the pipeline, its numbers are not SAM's.")
            st.caption("maps stored / images in the dataset; *partial*: some images have no map; "
                       "*scored*: images with cached per-image results (the Compare page scores the rest).")
            partial = [c for c in cells if c.status == "partial"]
            for c in partial:
                st.warning(f"{ui.literal(c.method)} on {ui.literal(c.dataset)} is partial: {c.maps} of {c.images} images have a map; "
                           "pages score it on the images it has and say so.")

st.subheader("The paper's tables")
keys = list(PAPER_TABLES)
names = {k: f"Table {PAPER_TABLES[k][0]} — {k}" for k in keys}
choice = state.bind(st.selectbox, "Table", key="paper_table", url="table", default=keys[0], options=keys,
                    format_func=names.get)
with ui.guard("paper table"):
    published = data.paper_table(choice)
    table = comparison_rows(None, ComparisonQuery(choice, paper=True)).table(dataset=choice, title=published.caption)
    st.markdown(f"**{published.caption}**")
    ui.show_comparison(table, key="overview_paper_table")
    if published.printed_gap:
        st.caption("printed gap row: " + ", ".join(f"{m} {v}%" for m, v in published.printed_gap.items()))
with ui.guard("paper Table 7"):
    speed = data.paper_speed_rows()
    with st.expander("Table 7 — model size, parameters and speed (RTX 3080)"):
        st.dataframe([{"method": r.printed_name, "model (MB)": r.model_mb, "params (M)": r.params_m, "FPS": r.fps}
                      for r in speed], hide_index=True)

st.subheader("Metric card", anchor="metric-card")
st.caption(f"How each metric is computed here (pysodmetrics {pysodmetrics_version()}); the same card as "
           "`python -m samis metrics --format md`.")
st.table([{"metric": name, "convention": text} for name, text in metric_card()])

if ctx.read_only:
    st.caption("This server is read-only: its operator adds datasets and predictions from the command line.")
    state.stop()
st.subheader("Add a dataset or predictions")
st.markdown(
    """
Datasets are registered by path and read in place (never copied). From a terminal, in the project folder:

```bash
# a dataset in its published layout (sd900, mt, nrsd-mn) or a plain images/ + masks/ folder
python -m samis datasets add sd900 ../shared/datasets/SD-saliency-900
python -m samis datasets add mt ../shared/datasets/MT
# predictions of any method: a folder of maps named like the images (PNG/JPG/BMP, any size)
python -m samis predictions import sd900 MCITF ../shared/predictions/SD-saliency-900/MCITF
# score them (cached per image; the dashboard does this on demand too)
python -m samis evaluate sd900 --split test
```

Or use the **Run** page: compute SAM or a built-in baseline, or import a prediction folder that lies
inside the allowed folders. The dashboard reads the workspace in `$SAMIS_WORKSPACE` (default `./data`);
the operator can allow more folders with `$SAMIS_ALLOWED_ROOTS` or `[samis] allowed_roots` in
`.streamlit/secrets.toml`.
"""
)
