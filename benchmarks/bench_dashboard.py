"""Dashboard page times, cold and warm, on the real data.

Every page runs through ``streamlit.testing.v1.AppTest`` (the same script run a browser triggers,
without the network) on a workspace holding SD-saliency-900 with the 12 published methods imported
and evaluated (12 × 900 per-image results) and the MT dataset with two baselines:

- cold: Streamlit's caches cleared (as after a server start; the workspace's on-disk results cache
  stays, as it would);
- warm: the same page run again (what every widget change or page revisit costs), median of runs.

Target: every page warm under 1.5 s, Cases with 900 images × 12 methods included.

Usage::

    python benchmarks/bench_dashboard.py [--workspace /tmp/samis-bench-dashboard] [--runs 3]

The workspace is prepared on first use with the CLI (``datasets add``, ``predictions import``,
``baseline``, ``evaluate``), which takes a few minutes; later runs reuse it.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
APP = str(REPO / "streamlit_app.py")
PAGES = ["overview", "run", "compare", "speed", "gallery", "cases"]
TARGET_WARM_S = 1.5
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere


def _cli(workspace: Path, *args: str) -> None:
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace)}
    subprocess.run([sys.executable, "-m", "samis", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def prepare(workspace: Path) -> None:
    """Register SD-saliency-900 and MT, import the 12 methods, compute MT baselines, evaluate."""
    from samis.workspace import Workspace

    ws = Workspace(workspace)
    registered = ws.registered_datasets()
    if "sd900" not in registered:
        _cli(workspace, "datasets", "add", "sd900", str(SHARED / "datasets" / "SD-saliency-900"))
    if "mt" not in registered:
        _cli(workspace, "datasets", "add", "mt", str(SHARED / "datasets" / "MT"))
    predictions = SHARED / "predictions" / "SD-saliency-900"
    have = set(ws.prediction_methods("sd900"))
    for folder in sorted(p for p in predictions.iterdir() if p.is_dir()):
        if folder.name not in have:
            print(f"  importing {folder.name}", flush=True)
            _cli(workspace, "predictions", "import", "sd900", folder.name, str(folder))
    if not {"ft", "otsu"} <= set(ws.prediction_methods("mt")):
        print("  computing baselines ft, otsu on mt", flush=True)
        _cli(workspace, "baseline", "mt", "ft,otsu")
    print("  evaluating (cached per image)", flush=True)
    _cli(workspace, "evaluate", "sd900")
    _cli(workspace, "evaluate", "mt")


def _run(at) -> float:
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"page raised: {at.exception[0].message}")
    return elapsed


def bench_dataset(dataset: str, runs: int) -> list[tuple[str, float, float, int, str]]:
    """(page, cold s, warm median s, elements, notes) for each page on one dataset."""
    import streamlit as st
    from streamlit.logger import set_log_level
    from streamlit.testing.v1 import AppTest

    set_log_level("error")
    # clearing caches outside a server logs a notice each time
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["dataset"] = dataset
    _run(at)  # imports and the first registry read: not part of any page's time
    results = []
    for page in PAGES:
        st.cache_data.clear()
        st.cache_resource.clear()
        if page != "overview":
            at.switch_page(f"pages/{page}.py")
        cold = _run(at)
        warm = statistics.median(_run(at) for _ in range(runs))
        notes = ""
        if page == "cases":
            frame = at.dataframe[0].value if at.dataframe else None
            notes = "" if frame is None else f"{len(frame)} images × {len(frame.columns) - 2} methods"
        elif page == "compare" and at.dataframe:
            notes = f"{len(at.dataframe[0].value)} table rows"
        elements = len(list(at.main)) + len(list(at.sidebar))
        results.append((page, cold, warm, elements, notes))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="/tmp/samis-bench-dashboard")
    parser.add_argument("--runs", type=int, default=3, help="warm runs per page (median)")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"skipped: the real data is not available ({SHARED} is absent)")
        return 0
    workspace = Path(args.workspace)
    print(f"workspace {workspace}")
    prepare(workspace)
    os.environ["SAMIS_WORKSPACE"] = str(workspace)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    worst = 0.0
    print(f"{'dataset':8} {'page':9} {'cold s':>7} {'warm s':>7} {'warm/cold':>9}  notes")
    for dataset in ("sd900", "mt"):
        for page, cold, warm, _, notes in bench_dataset(dataset, args.runs):
            worst = max(worst, warm)
            flag = "" if warm < TARGET_WARM_S else f"  (over the {TARGET_WARM_S} s target)"
            print(f"{dataset:8} {page:9} {cold:7.2f} {warm:7.2f} {warm / cold:9.2f}  {notes}{flag}")
    print(f"\nslowest warm page: {worst:.2f} s (target < {TARGET_WARM_S} s): "
          + ("met" if worst < TARGET_WARM_S else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
