"""Scale benchmark: a synthetic N-image × K-method study through the real CLI and the dashboard.

    nice -n 10 python benchmarks/bench_scale.py --images 4500 --methods 12
    python benchmarks/bench_scale.py --images 150000 --methods 12 --workdir /big/disk/scale

It generates a dataset in the ``folder`` layout (``images/``, ``masks/``, ``classes.csv``): 64×64 grey
images of textured steel, 3 defect classes (blob, patch, scratch) and defect-free images (empty masks,
class ``good``), and K methods' saliency maps of varied quality (method 1 closest to the ground truth,
each later one noisier and blurrier). Everything is deterministic from ``--seed`` and written streaming
(chunks of images over a process pool; no per-image object is kept), so 150,000 images work.

Then every step runs for real as its own subprocess (under ``nice``), as a user would run it:
``datasets add``, ``predictions import`` (one per method), ``evaluate`` cold and warm (local),
``evaluate --engine ray`` cold (the results moved aside first; skipped with a note where Ray cannot
start), ``report --measured``, ``report --measured --ci 1000``, ``results export`` (skipped with a
note where the command does not exist), ``evaluate`` once more where the store predates the stored reference
rows (step ``references``: the methods warm, the two reference maps scored once), the batch jobs that feed
Cases and Good parts (``evaluate --pixel-level --split all``, ``evaluate --image-level``) and the dashboard: one
process opening Compare, Cases, Gallery and Good parts, then every other page, through Streamlit's AppTest (the
script run a browser triggers), each cold then warm.

Per step it prints: wall and CPU seconds (the children's rusage), peak RSS of the step's own process
(the command, or the dashboard server), peak summed PSS of its whole process tree (pool and Ray workers
included; a page a forked worker shares with its parent counts once), both polled every 0.1 s from
/proc, the workspace's bytes on disk after the step (file sizes), and the per-image cost (wall / N). A small extra run at 200×200 prints
the bytes on disk per (image, method) pair of the stored maps and of the results. Free disk space is
checked before anything is written (refused in one line if short).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "streamlit_app.py")
DATASET = "scale"
DEFECT_CLASSES = ("blob", "patch", "scratch")
FREE_SHARE = 0.2  # share of defect-free images (empty ground truth)
CHUNK = 500  # images per generation task
STEPS = ("add", "import", "evaluate", "evaluate-warm", "evaluate-ray", "report", "report-ci", "subset", "export",
         "references", "pixel-level", "image-level", "dashboard", "pair-bytes")
DASHBOARD_PAGES = ("compare", "cases", "gallery", "good_parts", "inspection", "overview", "speed", "masks", "prompts",
                   "run")  # the four the issue names first, then every other page: the RSS is after all of them


# ---- generation --------------------------------------------------------------------------------------
def stem_of(index: int) -> str:
    return f"img{index:07d}"


def class_of(index: int, seed: int) -> str:
    """The class of image ``index``: defect-free with probability FREE_SHARE, else one of the defect classes."""
    draw = np.random.default_rng([seed, index, 0]).random()
    if draw < FREE_SHARE:
        return "good"
    return DEFECT_CLASSES[int((draw - FREE_SHARE) / (1 - FREE_SHARE) * len(DEFECT_CLASSES)) % len(DEFECT_CLASSES)]


def draw_image_and_mask(index: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, index, 1])
    texture = cv2.GaussianBlur(rng.normal(128, 24, (size, size)), (0, 0), 1.2)
    mask = np.zeros((size, size), np.uint8)
    cls = class_of(index, seed)
    centre = tuple(int(v) for v in rng.integers(size // 6, size - size // 6, 2))
    if cls == "blob":
        axes = tuple(int(v) for v in rng.integers(max(2, size // 20), max(3, size // 6), 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    elif cls == "patch":
        half = rng.integers(max(2, size // 12), max(3, size // 4), 2)
        cv2.rectangle(mask, tuple(int(c - h) for c, h in zip(centre, half)),
                      tuple(int(c + h) for c, h in zip(centre, half)), 255, -1)
    elif cls == "scratch":
        end = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(mask, centre, end, 255, max(1, size // 40))
    image = texture - (mask > 0) * rng.uniform(40, 90)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def draw_map(mask: np.ndarray, index: int, method: int, methods: int, seed: int) -> np.ndarray:
    """Method ``method``'s map of one image: the ground truth blurred, shifted and mixed with noise, worse for
    later methods (quality from 0.9 down to 0.35)."""
    rng = np.random.default_rng([seed, index, 2, method])
    quality = 0.9 - 0.55 * method / max(1, methods - 1)
    size = mask.shape[0]
    shift = int(round((1 - quality) * size / 16))
    moved = np.roll(mask, tuple(int(v) for v in rng.integers(-shift, shift + 1, 2)), axis=(0, 1)) if shift else mask
    soft = cv2.GaussianBlur(moved.astype(np.float32), (0, 0), 0.5 + 3 * (1 - quality))
    noise = cv2.GaussianBlur(rng.random((size, size), dtype=np.float32) * 255, (0, 0), 2.0)
    return np.clip(quality * soft + (1 - quality) * noise * rng.uniform(0.3, 1.0), 0, 255).astype(np.uint8)


def _write_chunk(task: tuple[Path, int, int, int, int, int]) -> int:
    root, start, stop, methods, seed, size = task
    for index in range(start, stop):
        stem = stem_of(index)
        image, mask = draw_image_and_mask(index, seed, size)
        cv2.imwrite(str(root / "images" / f"{stem}.png"), image)
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask)
        for method in range(methods):
            cv2.imwrite(str(root / "maps" / method_name(method) / f"{stem}.png"),
                        draw_map(mask, index, method, methods, seed))
    return stop - start


def method_name(method: int) -> str:
    return f"m{method + 1:02d}"


def generate(root: Path, images: int, methods: int, seed: int, size: int, quiet: bool = False) -> None:
    """Write the dataset and the maps under ``root`` (streaming: chunks of CHUNK images over the cores)."""
    for folder in ("images", "masks", *(f"maps/{method_name(m)}" for m in range(methods))):
        (root / folder).mkdir(parents=True, exist_ok=True)
    with (root / "classes.csv").open("w", encoding="utf-8") as handle:
        handle.write("stem,class\n")
        for index in range(images):
            handle.write(f"{stem_of(index)},{class_of(index, seed)}\n")
    tasks = [(root, start, min(images, start + CHUNK), methods, seed, size) for start in range(0, images, CHUNK)]
    done, started, next_report = 0, time.perf_counter(), 0.0
    with Pool(os.cpu_count() or 1) as pool:
        for count in pool.imap_unordered(_write_chunk, tasks):
            done += count
            elapsed = time.perf_counter() - started
            if not quiet and (elapsed >= next_report or done == images):
                print(f"  generated {done:,}/{images:,} images ({elapsed:.0f} s)", flush=True)
                next_report = elapsed + 30


# ---- measuring a step --------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def own_rss(pid: int) -> int:
    """Resident bytes of one process (what ``ps`` shows), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return own_rss(pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (a Ray driver's raylet and workers are its descendants)."""
    children, found, todo = _children_map(), [], [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, ()))
        found.append(current)
    return found


def tree_pss(pid: int) -> int:
    """Summed proportional set size of ``pid`` and its descendants (pages a forked pool worker shares with its
    parent count once, split between them; RSS where PSS cannot be read)."""
    return sum(map(_pss, tree_pids(pid)))


class Step:
    """A measured subprocess: wall and CPU seconds, peak RSS of the process, peak PSS of its tree, exit code."""

    def __init__(self, argv: list[str], env: dict, capture: bool = False):
        self.argv, self.env, self.capture = argv, env, capture
        self.peak, self.tree, self.wall, self.cpu, self.rc, self.out, self.err = 0, 0, 0.0, 0.0, None, "", ""
        #: CPU seconds of every process of the tree, as last seen while it lived (sampled every 0.1 s)
        self.tree_cpu: dict[int, float] = {}

    def run(self) -> "Step":
        started, cpu = time.perf_counter(), _children_cpu()
        # niced unless this script already is (nice inside nice would starve the step on a busy machine)
        nice = ["nice", "-n", "10"] if os.nice(0) == 0 else []
        process = subprocess.Popen([*nice, *self.argv], cwd=REPO, env=self.env, text=True,
                                   stdout=subprocess.PIPE if self.capture else subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                self.peak = max(self.peak, own_rss(process.pid))
                pids = tree_pids(process.pid)  # one look at /proc for both
                self.tree = max(self.tree, sum(map(_pss, pids)))
                for pid in pids:
                    self.tree_cpu[pid] = max(self.tree_cpu.get(pid, 0.0), cpu_seconds(pid))
                stop.wait(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        self.pid = process.pid
        self.out, self.err = process.communicate()
        stop.set()
        poller.join()
        self.wall, self.rc = time.perf_counter() - started, process.returncode
        self.cpu = _children_cpu() - cpu
        self.out = self.out or ""
        return self


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child (and the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def disk_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (their sizes; a 64×64 map of 1 KB still takes a 4 KB block)."""
    total, todo = 0, [str(path)]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f}"


class Table:
    def __init__(self, images: int, methods: int):
        self.images, self.methods, self.rows = images, methods, []
        print(f"\n{'step':<30} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'tree PSS MB':>12} {'disk MB':>10} "
              f"{'ms/image':>9}  notes", flush=True)

    def add(self, name: str, wall: float | None, peak, disk: int | None, notes: str = "",
            cpu: float | None = None) -> None:
        """``peak``: a finished :class:`Step` (its process's peak RSS and its tree's peak PSS), or None."""
        rss, tree = (None, None) if peak is None else (peak.peak, peak.tree)
        line = (f"{name:<30} {'-' if wall is None else f'{wall:.1f}':>8} {'-' if cpu is None else f'{cpu:.1f}':>8} "
                f"{'-' if rss is None else mb(rss):>12} {'-' if tree is None else mb(tree):>12} "
                f"{'-' if disk is None else mb(disk):>10} "
                f"{'-' if wall is None else f'{1000 * wall / self.images:.2f}':>9}  {notes}")
        self.rows.append(line)
        print(line, flush=True)


# ---- the steps ---------------------------------------------------------------------------------------
def cli(workspace: Path, *args: str, capture: bool = False) -> Step:
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace), "PYTHONPATH": str(REPO)}
    return Step([sys.executable, "-m", "samis", "--workspace", str(workspace), *args], env, capture).run()


def checked(step: Step, what: str) -> Step:
    if step.rc != 0:
        tail = (step.err or "").strip().splitlines()[-3:]
        raise SystemExit(f"error: {what} failed (exit {step.rc}): {' | '.join(tail)}")
    return step


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:90] if lines else ""


def run_import(workspace: Path, source: Path, methods: int, table: Table) -> None:
    wall, peak, cpu = 0.0, Step([], {}), 0.0
    for method in range(methods):
        name = method_name(method)
        step = checked(cli(workspace, "predictions", "import", DATASET, name, str(source / "maps" / name)),
                       f"predictions import {name}")
        wall, cpu = wall + step.wall, cpu + step.cpu
        peak.peak, peak.tree = max(peak.peak, step.peak), max(peak.tree, step.tree)
    table.add(f"predictions import ×{methods}", wall, peak, disk_bytes(workspace),
              f"{1000 * wall / (table.images * methods):.2f} ms/pair", cpu)


def results_dir(workspace: Path) -> Path:
    return workspace / "results" / DATASET


def run_evaluate(workspace: Path, table: Table, name: str, *extra: str) -> Step:
    step = cli(workspace, "evaluate", DATASET, *extra, capture=True)
    if step.rc != 0:
        table.add(name, None, None, None, f"failed: {last_line(step.err)}")
        return step
    pairs = table.images * table.methods
    table.add(name, step.wall, step, disk_bytes(workspace), f"{1000 * step.wall / pairs:.3f} ms/pair", step.cpu)
    return step


def run_ray(workspace: Path, table: Table) -> None:
    aside = workspace.parent / f"results-local-{os.getpid()}"  # outside: not counted as the workspace's bytes
    moved = results_dir(workspace).exists()
    if moved:
        results_dir(workspace).rename(aside)  # the Ray run scores every pair again (cold)
    step = run_evaluate(workspace, table, "evaluate --engine ray (cold)", "--engine", "ray")
    if step.rc == 0:  # the command's own CPU (listing, reading, writing) and its tree's (Ray and its workers)
        own, every = step.tree_cpu.get(step.pid, 0.0), sum(step.tree_cpu.values())
        pairs = table.images * table.methods
        print(f"  CPU of the process tree, sampled: {every:,.1f} s; the command (driver) {own:,.1f} s = "
              f"{1000 * own / pairs:.3f} ms/pair, Ray and its workers {every - own:,.1f} s = "
              f"{1000 * (every - own) / pairs:.3f} ms/pair (reference rows included, per image-method pair)",
              flush=True)
    if step.rc != 0 and moved:
        shutil.rmtree(results_dir(workspace), ignore_errors=True)
        aside.rename(results_dir(workspace))
        print("  note: Ray did not run here; the local results were put back", flush=True)
    elif moved:
        shutil.rmtree(aside)


def run_report(workspace: Path, table: Table, name: str, *extra: str) -> None:
    step = cli(workspace, "report", DATASET, "--measured", *extra, capture=True)
    notes = f"failed: {last_line(step.err)}" if step.rc else ""
    table.add(name, step.wall if not step.rc else None, None if step.rc else step, None, notes,
              None if step.rc else step.cpu)


SUBSET_SCRIPT = """
import json, sys, time
from samis.datasets import load_dataset
from samis.evaluation import evaluate_trusting_generation
from samis.workspace import Workspace
started = time.perf_counter()
workspace = Workspace(sys.argv[1])
result = evaluate_trusting_generation(workspace, load_dataset(workspace, sys.argv[2]))
opened = time.perf_counter()
stems = [s for s, c in result.image_classes.items() if c == sys.argv[3]]
first = next(iter(result.methods.values()))
one = first.scores(stems)
one_done = time.perf_counter()
every = {name: r.scores(stems) for name, r in result.methods.items()}
print(json.dumps({"open_s": opened - started, "one_s": one_done - opened, "all_s": time.perf_counter() - one_done,
                  "images": len(stems), "methods": len(every), "maxFm": one["maxFm"]}))
"""


def run_subset(workspace: Path, table: Table) -> None:
    """The aggregate of one class of one split, from the store (trusted, as pages read it): one method, then all."""
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace), "PYTHONPATH": str(REPO)}
    step = Step([sys.executable, "-c", SUBSET_SCRIPT, str(workspace), DATASET, DEFECT_CLASSES[0]], env, True).run()
    if step.rc:
        table.add("subset aggregate", None, None, None, f"failed: {last_line(step.err)}")
        return
    found = json.loads(step.out.strip().splitlines()[-1])
    table.add(f"subset aggregate, 1 method", found["one_s"], step, None,
              f"class {DEFECT_CLASSES[0]}: {found['images']:,} images, split all; reading the rows' keys and values "
              f"first took {found['open_s']:.1f} s (process start excluded)", None)
    table.add(f"subset aggregate, {found['methods']} methods", found["all_s"], step, None, "the same class, every method", None)


def has_results_command(workspace: Path) -> bool:
    return cli(workspace, "results", "--help").rc == 0


def run_export(workspace: Path, table: Table) -> None:
    if not has_results_command(workspace):
        print("  note: `results export` does not exist in this samis yet; export skipped", flush=True)
        table.add("results export", None, None, None, "skipped: no `results` command in this samis")
        return
    for fmt in ("parquet", "csv"):
        target = workspace.parent / f"export.{fmt}"
        step = cli(workspace, "results", "export", DATASET, "--format", fmt, "-o", str(target))
        notes = f"failed: {last_line(step.err)}" if step.rc else f"file {mb(target.stat().st_size)} MB"
        table.add(f"results export {fmt}", None if step.rc else step.wall, None if step.rc else step,
                  None if step.rc else disk_bytes(workspace), notes, None if step.rc else step.cpu)


def run_dashboard(workspace: Path, table: Table) -> None:
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace), "PYTHONPATH": str(REPO)}
    step = Step([sys.executable, str(Path(__file__).resolve()), "--dashboard-child", str(workspace)], env,
                capture=True).run()
    if step.rc != 0:
        table.add("dashboard", None, None, None, f"failed: {last_line(step.err)}")
        return
    for line in step.out.splitlines():
        if line.startswith("{"):
            page = json.loads(line)
            table.add(f"dashboard {page['page']} cold", page["cold"], None, None,
                      f"warm {page['warm']:.2f} s; server RSS after {mb(page['rss'])} MB; {page['shown']}")
    table.add(f"dashboard (all {len(DASHBOARD_PAGES)} pages)", step.wall, step, None, "one server process, every page opened",
              step.cpu)


def dashboard_child(workspace: Path) -> int:
    """In its own process (the 'server'): open each page cold then warm; one JSON line per page."""
    import logging

    from streamlit.logger import set_log_level
    from streamlit.testing.v1 import AppTest

    set_log_level("error")
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
    at = AppTest.from_file(APP, default_timeout=3600)
    at.query_params["dataset"] = DATASET
    at.run()
    for page in DASHBOARD_PAGES:
        at.switch_page(f"pages/{page}.py")
        times = []
        for _ in range(3):  # cold, then warm twice (the second warm run is reported)
            started = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - started)
            if at.exception:
                print(f"page {page} raised: {at.exception[0].message}", file=sys.stderr)
                return 1
        shown = [len(frame.value) for frame in at.dataframe]
        print(json.dumps({"page": page, "cold": times[0], "warm": times[2], "rss": own_rss(os.getpid()),
                          "shown": f"{len(at.dataframe)} tables of {shown} rows, {len(at.get('image'))} images"}),
              flush=True)
    return 0


def run_pair_bytes(base: Path, seed: int) -> None:
    """Bytes on disk per (image, method) pair for 200×200 images: 300 images × 2 methods."""
    images, methods = 300, 2
    source, workspace = base / "pairs-data", base / "pairs-workspace"
    generate(source, images, methods, seed, 200, quiet=True)
    checked(cli(workspace, "datasets", "add", DATASET, str(source), "--layout", "folder"), "datasets add (200×200)")
    for method in range(methods):
        name = method_name(method)
        checked(cli(workspace, "predictions", "import", DATASET, name, str(source / "maps" / name)), "import")
    checked(cli(workspace, "evaluate", DATASET), "evaluate (200×200)")
    pairs = images * methods
    maps = disk_bytes(workspace / "predictions" / DATASET)
    results = disk_bytes(workspace / "results")
    print(f"\n200×200 images ({images} images × {methods} methods): stored maps {maps / pairs / 1e3:.1f} KB/pair, "
          f"results {results / pairs / 1e3:.1f} KB/pair, workspace {disk_bytes(workspace) / pairs / 1e3:.1f} KB/pair",
          flush=True)


def needed_bytes(images: int, methods: int) -> int:
    """A generous estimate of what the run writes: source files (about 1.5 KB each at 64×64), the stored copy of
    the maps, results (measured 1.3 KB per pair with the store of format 2, 0.5 KB with format 3; counted at the
    old size, twice while the Ray step keeps the local results aside) and exports, with a 20 % margin."""
    per_image = 4_000 + methods * (2 * 2_000 + 5_000)
    return int(images * per_image * 1.2) + 2 * 10**9


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4500)
    parser.add_argument("--methods", type=int, default=12)
    parser.add_argument("--workdir", default=None, help="where data and workspace go (default: a new /tmp folder)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    parser.add_argument("--dashboard-child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dashboard_child:
        return dashboard_child(Path(args.dashboard_child))
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown or args.images < 10 or args.methods < 1:
        print(f"error: bad arguments: unknown steps {unknown}" if unknown else
              "error: --images must be at least 10 and --methods at least 1", file=sys.stderr)
        return 2
    base = Path(args.workdir or Path(tempfile.gettempdir()) / f"samis-scale-{args.images}-{os.getpid()}")
    existing = next(p for p in [base, *base.parents] if p.exists())
    free, need = shutil.disk_usage(existing).free, needed_bytes(args.images, args.methods)
    if free < need:
        print(f"error: {base}: {free / 1e9:.1f} GB free, this run needs about {need / 1e9:.1f} GB; "
              "pass --workdir on a larger disk", file=sys.stderr)
        return 2
    base.mkdir(parents=True, exist_ok=True)
    try:
        run_all(args, base, steps)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def run_all(args, base: Path, steps: list[str]) -> None:
    source, workspace = base / "data", base / "workspace"
    n, k = args.images, args.methods
    commit = os.environ.get("SAMIS_COMMIT") or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                                              capture_output=True, text=True).stdout
    print(f"bench_scale: {n:,} images ({args.size}×{args.size}) × {k} methods; samis {commit.strip()}; "
          f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}; workdir {base}", flush=True)
    if not (source / "classes.csv").exists():
        started = time.perf_counter()
        generate(source, n, k, args.seed, args.size)
        generated = time.perf_counter() - started
    else:
        generated = None
    table = Table(n, k)
    table.add("generate (this script)", generated, None, disk_bytes(source),
              f"{n * (2 + k):,} files" + ("" if generated is not None else ", reused"))
    if "add" in steps:
        step = checked(cli(workspace, "datasets", "add", DATASET, str(source), "--layout", "folder", "--replace"),
                       "datasets add")
        table.add("datasets add", step.wall, step, disk_bytes(workspace), cpu=step.cpu)
    if "import" in steps:
        run_import(workspace, source, k, table)
    if "evaluate" in steps:
        run_evaluate(workspace, table, "evaluate (cold)")
    if "evaluate-warm" in steps:
        run_evaluate(workspace, table, "evaluate (warm)")
    if "evaluate-ray" in steps:
        run_ray(workspace, table)
    if "report" in steps:
        run_report(workspace, table, "report --measured")
    if "report-ci" in steps:
        run_report(workspace, table, "report --measured --ci 1000", "--ci", "1000")
    if "subset" in steps:
        run_subset(workspace, table)
    if "export" in steps:
        run_export(workspace, table)
    if "references" in steps:  # a store made before reference rows were stored: evaluate scores them once
        run_evaluate(workspace, table, "evaluate: + reference rows (cold)")
    if "pixel-level" in steps:  # the batch jobs behind Cases' operating point and Compare's inspection metrics
        run_evaluate(workspace, table, "evaluate --pixel-level (cold)", "--pixel-level", "--split", "all")
    if "image-level" in steps:  # ... and behind Good parts
        run_evaluate(workspace, table, "evaluate --image-level (cold)", "--image-level")
    if "dashboard" in steps:
        run_dashboard(workspace, table)
    if workspace.exists():  # (no step of the list made it: e.g. --steps pair-bytes alone)
        print(f"\nworkspace on disk: {mb(disk_bytes(workspace))} MB "
              f"({disk_bytes(workspace) / (n * k) / 1e3:.1f} KB per (image, method) pair at {args.size}×{args.size})")
    if "pair-bytes" in steps:
        run_pair_bytes(base, args.seed)


if __name__ == "__main__":
    sys.exit(main())
