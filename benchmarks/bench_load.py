"""Eight colleagues at once: one Streamlit server, eight browser sessions opening eight views together.

One ``streamlit run streamlit_app.py`` on 127.0.0.1 serves a workspace holding SD-saliency-900 with the
12 published methods (from ``../shared``; a generated 60-image dataset with two methods when the real
data is absent). Eight headless Chromium sessions, each in its own thread, open eight different views
at the same moment (overview, compare, compare on the test split, gallery, gallery overlay, cases
"good", cases "worst", speed) — twice:

- cold: the server was just started (Streamlit's caches are empty; the workspace's on-disk results
  cache is filled beforehand, as it would be on a used installation);
- warm: the same server, eight new sessions, the same views.

For each view it prints the time from ``driver.get`` until the page is idle (a title, no running
status widget, no spinner; :func:`helpers.wait_for_page`), then the median and p95 per round, and the
server's resident memory (``VmRSS`` of the streamlit process, and of its child processes) after start,
after the cold round and after the warm round. Memory that grows by a similar amount in the warm
round as in the cold one would mean sessions copy cached results instead of sharing them.

Usage::

    python benchmarks/bench_load.py [--workspace /tmp/samis-bench-load] [--sessions 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "browser"))

import helpers  # noqa: E402  (tests/browser/helpers.py: server, Chromium, idle wait)

VIEWS = [  # (name, path and query; {d} is the dataset id)
    ("overview", "/?dataset={d}"),
    ("compare", "/compare?dataset={d}"),
    ("compare test split", "/compare?dataset={d}&split=test"),
    ("gallery", "/gallery?dataset={d}&rows=4"),
    ("gallery overlay", "/gallery?dataset={d}&mode=overlay&rows=6&threshold=100"),
    ("cases good", "/cases?dataset={d}&filter=good"),
    ("cases worst", "/cases?dataset={d}&filter=worst&worst_n=10"),
    ("speed", "/speed?dataset={d}"),
]


def _cli(workspace: Path, *args: str) -> None:
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace)}
    subprocess.run([sys.executable, "-m", "samis", *args], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)


def prepare(workspace: Path) -> str:
    """Fill the workspace (first use only); returns the dataset id the views show."""
    from samis.workspace import Workspace

    ws = Workspace(workspace)
    predictions = SHARED / "predictions" / "SD-saliency-900"
    if (SHARED / "datasets" / "SD-saliency-900").is_dir() and predictions.is_dir():
        dataset = "sd900"
        if dataset not in ws.registered_datasets():
            _cli(workspace, "datasets", "add", dataset, str(SHARED / "datasets" / "SD-saliency-900"))
        have = set(ws.prediction_methods(dataset))
        for folder in sorted(p for p in predictions.iterdir() if p.is_dir()):
            if folder.name not in have:
                print(f"  importing {folder.name}", flush=True)
                _cli(workspace, "predictions", "import", dataset, folder.name, str(folder))
    else:
        dataset = "toy"
        if dataset not in ws.registered_datasets():
            sys.path.insert(0, str(REPO / "tests"))
            from conftest import write_folder_dataset

            from samis.datasets import register_dataset
            from samis.store import import_predictions

            root, folders = write_folder_dataset(workspace.parent / f"{workspace.name}-data", n=60, shape=(200, 200))
            registered = register_dataset(ws, dataset, root)
            for method, folder in folders.items():
                import_predictions(ws, registered, method, folder)
    print("  evaluating (cached per image on disk)", flush=True)
    _cli(workspace, "evaluate", dataset)
    return dataset


def rss_mib(pid: int) -> float:
    """Resident memory of one process in MiB (``VmRSS`` in /proc/<pid>/status), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (worker pools of the evaluation)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for kid in map(int, kids):
            found += [kid, *children(kid)]
    return found


def memory(pid: int) -> str:
    kids = children(pid)
    extra = f" + {sum(rss_mib(k) for k in kids):.0f} MiB in {len(kids)} child processes" if kids else ""
    return f"{rss_mib(pid):.0f} MiB{extra}"


def open_view(url: str, profile: Path, results: dict, name: str, start: threading.Barrier) -> None:
    """One colleague: a browser opens one view; records seconds until idle (or the error)."""
    driver = None
    try:
        driver = helpers.chromium(profile, window="1400,1000")
        start.wait()
        began = time.monotonic()
        driver.get(url)
        idle = helpers.wait_for_page(driver, timeout=600)
        boxes = driver.find_elements(helpers.By.CSS_SELECTOR, '[data-testid="stException"]')
        dialogs = [d.text.splitlines()[0] for d in driver.find_elements(helpers.By.CSS_SELECTOR, '[data-testid="stDialog"]')
                   if d.text.strip()]
        note = ("exception box; " if boxes else "") + (f"dialog: {dialogs[0]}" if dialogs else "")
        results[name] = (idle - began, note)
    except Exception as error:  # noqa: BLE001 - a failed view is reported, the others still count
        results[name] = (float("nan"), f"{type(error).__name__}: {str(error).splitlines()[0][:120]}")
        try:
            start.abort()
        except threading.BrokenBarrierError:
            pass
    finally:
        if driver is not None:
            driver.quit()


def one_round(server: str, dataset: str, sessions: int, scratch: Path, label: str) -> list[float]:
    views = [VIEWS[i % len(VIEWS)] for i in range(sessions)]
    results: dict[str, tuple[float, str]] = {}
    barrier = threading.Barrier(sessions)
    threads = []
    for i, (name, path) in enumerate(views):
        key = name if sessions <= len(VIEWS) else f"{name} #{i}"
        thread = threading.Thread(target=open_view, args=(server + path.format(d=dataset), scratch / f"{label}-{i}",
                                                          results, key, barrier))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    times = []
    print(f"\n{label}: {sessions} sessions at once")
    for key, (seconds, note) in sorted(results.items(), key=lambda item: item[1][0]):
        print(f"  {key:22} {seconds:7.2f} s  {note}")
        if seconds == seconds:
            times.append(seconds)
    if times:
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  median {statistics.median(times):.2f} s · p95 {p95:.2f} s · slowest {ordered[-1]:.2f} s")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="/tmp/samis-bench-load")
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    reason = helpers.missing_browser()
    if reason:
        print(f"skipped: {reason}")
        return 0
    workspace = Path(args.workspace)
    print(f"workspace {workspace}")
    dataset = prepare(workspace)
    print(f"dataset {dataset}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="samis-bench-load-") as scratch, \
            helpers.streamlit_server(workspace) as (server, process):
        time.sleep(2)  # the server's own imports settle
        print(f"server {server} (pid {process.pid}); memory after start: {memory(process.pid)}")
        for label in ("cold", "warm"):
            cpu = cpu_seconds(process.pid)
            one_round(server, dataset, args.sessions, Path(scratch), label)
            print(f"  server CPU time in the {label} round: {cpu_seconds(process.pid) - cpu:.1f} s "
                  f"(the rest of the wall time is the browsers and other load)")
            print(f"  server memory after the {label} round: {memory(process.pid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
