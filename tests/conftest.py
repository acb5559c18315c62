"""Shared fixtures: the real data in ../shared (skipped when absent) and small generated datasets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _shared(path: str) -> Path:
    target = SHARED / path
    if not target.exists():
        pytest.skip(f"real data not available: {target} is absent (it lives in ../shared beside the repository)")
    return target


@pytest.fixture
def shared_dir() -> Path:
    return _shared("")


@pytest.fixture
def sd900_dir() -> Path:
    return _shared("datasets/SD-saliency-900")


@pytest.fixture
def mt_dir() -> Path:
    return _shared("datasets/MT")


@pytest.fixture
def sd900_predictions_dir() -> Path:
    return _shared("predictions/SD-saliency-900")


class Sd900Store:
    """SD-saliency-900 in one workspace, for the tests of its real numbers (fixture :func:`sd900_store`).

    Made at once: ``datasets add`` (the CLI; its exit code is ``cli_code``) registers all 900 images in
    ``workspace`` (``dataset``). The rest is done the first time a test asks for it and kept for the next:
    :meth:`imported` imports published methods (``imports`` keeps each report) and :meth:`twelve` imports all
    12 (``methods``), scores them with samis's ``evaluate`` over split ``all`` and, independently, runs a
    plain pysodmetrics loop on each method's original files.

    Tests may read the store and evaluate over it (the results cache fills), and may add methods of their
    own names; they never change the published methods or the dataset.
    """

    def __init__(self, root: Path, sd900_dir: Path, predictions_dir: Path):
        from samis.cli import main
        from samis.datasets import register_dataset
        from samis.workspace import Workspace

        self.predictions_dir = predictions_dir
        self.cli_code = main(["--workspace", str(root), "datasets", "add", "sd900", str(sd900_dir)])
        self.workspace = Workspace(root)
        self.dataset = register_dataset(self.workspace, "sd900", sd900_dir, replace=True)
        self.methods = sorted(p.name for p in predictions_dir.iterdir() if p.is_dir())
        self.imports: dict = {}
        self._twelve = None

    def imported(self, *methods: str) -> dict:
        """The import reports of ``methods``, importing those not imported yet."""
        from samis.store import import_predictions

        for method in methods:
            if method not in self.imports:
                self.imports[method] = import_predictions(self.workspace, self.dataset, method,
                                                          self.predictions_dir / method)
        return {method: self.imports[method] for method in methods}

    def twelve(self) -> tuple[dict, dict]:
        """(``evaluate(…, methods, split="all").to_json_dict()``, each method's
        :func:`reference.pysodmetrics_scores` over its original files), computed once."""
        if self._twelve is None:
            from reference import pysodmetrics_scores_of

            from samis.evaluation import evaluate

            samples = self.dataset.samples
            originals = {m: {p.stem: p for p in (self.predictions_dir / m).iterdir()} for m in self.methods}
            # the plain loops read the original files, not the store: they run (two processes) while samis
            # imports and scores
            with pysodmetrics_scores_of({m: [(originals[m][s.id], s.gt_path) for s in samples]
                                         for m in self.methods}) as plain_scores:
                self.imported(*self.methods)
                evaluation = evaluate(self.workspace, self.dataset, self.methods, split="all").to_json_dict()
                self._twelve = evaluation, plain_scores()
        return self._twelve


@pytest.fixture(scope="session")
def sd900_store(tmp_path_factory) -> Sd900Store:
    """The session's :class:`Sd900Store` (skipped when ../shared has no SD-saliency-900 or its predictions)."""
    sd900_dir, predictions_dir = _shared("datasets/SD-saliency-900"), _shared("predictions/SD-saliency-900")
    return Sd900Store(tmp_path_factory.mktemp("sd900-store") / "workspace", sd900_dir, predictions_dir)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace in a temp folder, also set as $SAMIS_WORKSPACE."""
    from samis.workspace import Workspace

    root = tmp_path / "workspace"
    monkeypatch.setenv("SAMIS_WORKSPACE", str(root))
    return Workspace(root)


def blob_mask(rng: np.random.Generator, shape: tuple[int, int], n_blobs: int = 2) -> np.ndarray:
    """A binary mask with a few ellipses."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros(shape, bool)
    for _ in range(n_blobs):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.05, 0.2) * h, rng.uniform(0.05, 0.2) * w
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return mask


def noisy_prediction(rng: np.random.Generator, mask: np.ndarray, quality: float) -> np.ndarray:
    """A soft saliency map: the mask blurred with noise; higher quality = closer to the mask."""
    noise = rng.normal(0.0, 1.0 - quality, mask.shape)
    soft = mask * quality + noise * 0.5 + 0.2
    soft = (soft - soft.min()) / (soft.max() - soft.min() + 1e-9)
    return (soft * 255).astype(np.uint8)


def write_gray(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_folder_dataset(base: Path, n: int = 12, shape=(48, 64), seed: int = 0, name: str = "toy",
                         empty_gt: int = 0) -> tuple[Path, dict[str, Path]]:
    """A `folder`-layout dataset with n images (+ classes.csv) and two prediction folders, under ``base``.

    Deterministic: the same arguments give the same files.
    """
    rng = np.random.default_rng(seed)
    root = base / name
    preds = {"good": base / f"{name}-pred-good", "weak": base / f"{name}-pred-weak"}
    classes = []
    for i in range(n):
        stem = f"img_{i:03d}"
        mask = np.zeros(shape, bool) if i < empty_gt else blob_mask(rng, shape, 1 + i % 2)
        image = (rng.normal(120, 10, shape) + mask * 40).clip(0, 255).astype(np.uint8)
        write_gray(root / "images" / f"{stem}.png", image)
        write_gray(root / "masks" / f"{stem}.png", (mask * 255).astype(np.uint8))
        write_gray(preds["good"] / f"{stem}.png", noisy_prediction(rng, mask, 0.9))
        write_gray(preds["weak"] / f"{stem}.png", noisy_prediction(rng, mask, 0.4))
        classes.append(f"{stem},{'scratch' if i % 3 == 0 else 'patch'}")
    (root / "classes.csv").write_text("stem,class\n" + "\n".join(classes) + "\n")
    return root, preds


@pytest.fixture
def make_folder_dataset(tmp_path):
    """Factory: :func:`write_folder_dataset` in this test's temp folder."""

    def make(n: int = 12, shape=(48, 64), seed: int = 0, name: str = "toy", empty_gt: int = 0):
        return write_folder_dataset(tmp_path, n, shape, seed, name, empty_gt)

    return make


@pytest.fixture(scope="session")
def folder_dataset_writer():
    """:func:`write_folder_dataset` itself, for module- and session-scoped fixtures."""
    return write_folder_dataset


#: small settings for the test-size SAM: few prompts, and thresholds that random weights can pass
TINY_SAM_TEST_PARAMS = dict(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


@pytest.fixture(scope="session")
def tiny_sam_oracle_maps(tmp_path_factory):
    """Factory: the folder of real ``sam-tiny-random+oracle`` maps (manifest included) for the toy dataset of
    ``write_folder_dataset(n=…)``, made once per session by running the test-size SAM (random weights) and
    the oracle selection; tests copy it into their workspace instead of running SAM each time."""
    made: dict[int, Path] = {}

    def get(n: int) -> Path:
        if n not in made:
            from samis.datasets import register_dataset
            from samis.sam.params import AmgParams
            from samis.sam.run import SamRun, run_sam_over_dataset
            from samis.sam.select_run import select_over_dataset
            from samis.workspace import Workspace

            base = tmp_path_factory.mktemp(f"tiny-sam-{n}")
            root, _ = write_folder_dataset(base, n=n)
            workspace = Workspace(base / "workspace")
            dataset = register_dataset(workspace, "toy", root)
            run_sam_over_dataset(workspace, dataset, SamRun("tiny", AmgParams(**TINY_SAM_TEST_PARAMS), device="cpu"))
            select_over_dataset(workspace, dataset, "sam-tiny-random", "oracle")
            made[n] = workspace.method_dir("toy", "sam-tiny-random+oracle")
        return made[n]

    return get


def build_study(workspace, base: Path, n: int, oracle: Path):
    """Register dataset `toy` (n images, written under ``base``) in ``workspace`` with methods good, weak and the
    oracle maps of ``oracle`` (a folder of :func:`tiny_sam_oracle_maps`); returns the workspace."""
    import shutil

    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, predictions = write_folder_dataset(base, n=n)
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "good", predictions["good"])
    import_predictions(workspace, dataset, "weak", predictions["weak"])
    shutil.copytree(oracle, workspace.method_dir("toy", oracle.name))
    return workspace


@pytest.fixture(scope="session")
def study_builder():
    """:func:`build_study` itself, for module- and session-scoped fixtures."""
    return build_study


@pytest.fixture
def make_study(workspace, tmp_path, tiny_sam_oracle_maps):
    """Factory: register dataset `toy` (n images) with methods good, weak and the test-size SAM's real oracle
    maps (`sam-tiny-random+oracle`: random weights, an upper bound); returns the workspace."""

    def make(n: int):
        # the oracle maps are made once per session by running the test-size SAM
        return build_study(workspace, tmp_path, n, tiny_sam_oracle_maps(n))

    return make


@pytest.fixture
def make_nrsd_dataset(tmp_path):
    """Factory: a small NRSD-MN dataset in the MCnet layout (PNG images, JPEG masks)."""

    def make(n_train: int = 4, n_test: int = 3, shape=(60, 60), seed: int = 1):
        rng = np.random.default_rng(seed)
        root = tmp_path / "NRSD-MN"
        for folder, count in (("training", n_train), ("validation", n_test)):
            for i in range(count):
                stem = f"{folder[:3]}_{i:03d}"
                mask = blob_mask(rng, shape, 1)
                image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
                (root / "images" / folder).mkdir(parents=True, exist_ok=True)
                (root / "annotations" / folder).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(root / "images" / folder / f"{stem}.png")
                # JPEG masks have ringing around edges: values near 0/255 but not exact
                Image.fromarray((mask * 255).astype(np.uint8)).save(root / "annotations" / folder / f"{stem}.jpg", quality=90)
        return root

    return make


@pytest.fixture(autouse=True)
def _no_user_workspace(monkeypatch, tmp_path):
    """Tests never touch ./data of the checkout: default the workspace to a temp folder."""
    if "SAMIS_WORKSPACE" not in os.environ:
        monkeypatch.setenv("SAMIS_WORKSPACE", str(tmp_path / "default-workspace"))


@pytest.fixture(scope="session")
def tiny_sam_all_methods(tmp_path_factory):
    """A workspace (made once per session) with dataset `toy` (6 images), the test-size SAM's mask cache
    (random weights) and the maps and selection records of every strategy and prompt kind; tests copy it."""
    from samis.datasets import register_dataset
    from samis.sam.engine import load_sam
    from samis.sam.params import AmgParams
    from samis.sam.prompts import run_prompted_over_dataset
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.sam.select_run import select_over_dataset
    from samis.sam.selection import STRATEGIES
    from samis.workspace import Workspace

    base = tmp_path_factory.mktemp("tiny-sam-all")
    root, _ = write_folder_dataset(base, n=6)
    workspace = Workspace(base / "workspace")
    dataset = register_dataset(workspace, "toy", root)
    run_sam_over_dataset(workspace, dataset, SamRun("tiny", AmgParams(**TINY_SAM_TEST_PARAMS), device="cpu"))
    for strategy in STRATEGIES:
        select_over_dataset(workspace, dataset, "sam-tiny-random", strategy)
    loaded = load_sam("tiny", device="cpu")
    for kind in ("box", "point"):
        run_prompted_over_dataset(workspace, dataset, loaded, kind)
    return workspace.root


@pytest.fixture
def masks_workspace(tiny_sam_all_methods, tmp_path, monkeypatch):
    """A copy of :func:`tiny_sam_all_methods`'s workspace for one test (set as $SAMIS_WORKSPACE)."""
    import shutil

    from samis.workspace import Workspace

    root = tmp_path / "masks-workspace"
    shutil.copytree(tiny_sam_all_methods, root)
    monkeypatch.setenv("SAMIS_WORKSPACE", str(root))
    return Workspace(root)


@pytest.fixture
def serve_bytes():
    """Factory: serve one payload over HTTP on 127.0.0.1 (every GET answers it whole); returns the base URL.

    The servers stop when the test ends.
    """
    import http.server
    import threading

    servers = []

    def serve(payload: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


# ---- one local Ray for the tests that need one -------------------------------------------------------------
#: how the tests' local Ray starts: 2 CPUs, a 200 MB object store, the checkout importable by its workers
RAY_OPTIONS = dict(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024, log_to_driver=False,
                   runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                       os.environ.get("PYTHONPATH")]))}})
_LAST_RAY_TEST: list = []  # the last test of the run that asks for ray_cluster (set once collected)


@pytest.fixture
def ray_cluster():
    """A local Ray (:data:`RAY_OPTIONS`), connected here: one for the whole session, started by the first test
    that asks for it and stopped after the last one (``pytest_runtest_teardown``), not once per test or module.

    Yields the ``ray`` module."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(**RAY_OPTIONS)
    yield ray


@pytest.fixture
def fresh_ray_cluster():
    """A local Ray (:data:`RAY_OPTIONS`) started for this test alone and stopped after it: a driver interrupted
    with Ctrl-C is judged against a cluster that holds no other test's workers or actors (the session's Ray, if
    it is up, is stopped first; the next test that asks for ``ray_cluster`` starts it again).

    Yields the ``ray`` module."""
    ray = pytest.importorskip("ray")
    _stop_ray()
    ray.init(**RAY_OPTIONS)
    yield ray
    _stop_ray()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    users = [item for item in items if "ray_cluster" in getattr(item, "fixturenames", ())]
    _LAST_RAY_TEST[:] = users[-1:]


def pytest_runtest_teardown(item, nextitem):
    """Stop the tests' local Ray once the last test that uses it is done (the tests after it fork processes
    of their own, better without Ray's threads in them)."""
    if item in _LAST_RAY_TEST or nextitem is None:
        _stop_ray()


def pytest_sessionfinish(session):
    _stop_ray()


def _stop_ray() -> None:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def two_method_toy(make_folder_dataset, workspace):
    """Dataset `toy` (16 images, 3 with an empty mask; splits train/test) with methods good and weak imported:
    (workspace, the loaded dataset)."""
    from samis.datasets import load_dataset, register_dataset
    from samis.store import import_predictions

    root, predictions = make_folder_dataset(n=16, empty_gt=3)
    dataset = register_dataset(workspace, "toy", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    return workspace, load_dataset(workspace, "toy")
