"""--engine ray: the same bytes as a local run, lost workers retried, bad addresses refused, Ctrl-C resumable.

The fast tests start no Ray (an unreachable address is refused before Ray is imported). The slow ones share
the session's one local Ray (conftest.py's ``ray_cluster``: 2 CPUs, a 200 MB object store), stopped after the
last test that uses it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samis.datasets import register_dataset
from samis.engines import EngineSpec
from samis.errors import EngineError

REPO = Path(__file__).resolve().parents[1]
TINY = dict(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
TINY_ARGS = ["--points-per-side", "8", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
             "--box-nms-thresh", "1.0"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _main(workspace, capsys, *args) -> tuple[int, str, str]:
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _results(folder: Path) -> dict:
    """The evaluation caches' arrays and the results store's columns, less the file stats (size, mtime) and the
    trust token (it names the workspace's folders) that differ between any two workspaces."""
    import numpy as np
    import pyarrow.parquet as pq

    out = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as data:
            out[path.name] = {k: data[k].tobytes() + str(data[k].dtype).encode() for k in data.files
                              if k not in ("pred_stat", "stat", "generation")}
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        out[path.name] = {name: table.column(name).to_pylist() for name in table.column_names
                          if name not in ("pred_size", "pred_mtime_ns")}
    return out


# ---- fast: no Ray is started ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["sam", "toy", "--model", "tiny"], ["baseline", "toy", "mbd"], ["evaluate", "toy"],
                                     ["evaluate", "toy", "--image-level"]])
def test_unreachable_address_is_one_line_fast_and_writes_nothing(workspace, make_folder_dataset, capsys, command):
    root, _ = make_folder_dataset(n=4)
    register_dataset(workspace, "toy", root)
    before = _tree(workspace.root)
    started = time.perf_counter()
    code, out, err = _main(workspace, capsys, *command, "--engine", "ray", "--ray-address", f"127.0.0.1:{_closed_port()}")
    assert time.perf_counter() - started < 30
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: cannot reach a Ray cluster at 127.0.0.1:")
    assert _tree(workspace.root) == before


class _Listener:
    """A server on 127.0.0.1 that answers every connection with ``reply`` (None: says nothing) and keeps it open."""

    def __init__(self, reply: bytes | None):
        import threading

        self.reply, self.sock, self.kept = reply, socket.socket(), []
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.kept.append(connection)
            if self.reply is not None:
                connection.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()
        for connection in self.kept:
            connection.close()


#: an HTTP/2 server's first frame: an empty SETTINGS frame (what a gRPC server such as Ray's GCS sends)
_SETTINGS = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "is a web server, not a Ray cluster (port 8265 is Ray's dashboard)"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", "answers but is not a Ray cluster (no gRPC there)"),
    (None, "answers but is not a Ray cluster (no gRPC there)"),
], ids=["http", "other-protocol", "silent"])
def test_an_open_port_that_is_no_ray_cluster_is_refused_in_seconds(reply, message, monkeypatch):
    import samis.engines as engines

    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    listener = _Listener(reply)
    try:
        started = time.perf_counter()
        with pytest.raises(EngineError) as caught:
            engines.check_reachable(listener.address, timeout_s=1.0)
        assert time.perf_counter() - started < 10
    finally:
        listener.close()
    assert str(caught.value) == (f"{listener.address} {message}; use the address `ray start --head` printed "
                                 "(port 6379 by default)")


def test_the_dashboard_port_is_one_line_on_the_command_line_and_writes_nothing(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=4)
    register_dataset(workspace, "toy", root)
    before = _tree(workspace.root)
    web = _Listener(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    try:
        code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--engine", "ray",
                               "--ray-address", web.address)
    finally:
        web.close()
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: {web.address} is a web server, not a Ray cluster (port 8265 is Ray's "
                                        "dashboard); use the address `ray start --head` printed (port 6379 by default)"]
    assert _tree(workspace.root) == before


def test_a_grpc_port_passes_the_check_and_tls_clusters_get_the_tcp_check_only(monkeypatch):
    from samis.engines import check_reachable

    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    grpc_like, silent = _Listener(_SETTINGS), _Listener(None)
    try:
        check_reachable(grpc_like.address, timeout_s=2.0)  # no error: it speaks HTTP/2
        with pytest.raises(EngineError, match="no gRPC there"):
            check_reachable(silent.address, timeout_s=0.5)
        monkeypatch.setenv("RAY_USE_TLS", "1")  # a TLS handshake is expected there: the preface is not sent
        check_reachable(silent.address, timeout_s=0.5)
    finally:
        grpc_like.close()
        silent.close()


def test_engine_options_are_checked():
    with pytest.raises(EngineError, match="needs --engine ray"):
        EngineSpec("local", address="10.0.0.1:6379").checked()
    with pytest.raises(EngineError, match="has no port"):
        EngineSpec("ray", address="headnode").checked()
    with pytest.raises(EngineError, match="HOST:PORT"):
        EngineSpec("ray", address="http://headnode:6379").checked()
    with pytest.raises(EngineError, match="at least 1"):
        EngineSpec("ray", workers=0).checked()
    with pytest.raises(EngineError, match="unknown engine"):
        EngineSpec("spark").checked()
    assert EngineSpec("ray", workers=2, gpus_per_worker=0.5).checked().workers == 2


class _Cluster:
    """A Ray cluster's resources, as ``ray.cluster_resources()`` reports them."""

    def __init__(self, cpus: float, gpus: float = 0):
        self.resources = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}

    def cluster_resources(self) -> dict:
        return self.resources


def test_worker_layout_fits_the_cluster_or_says_what_is_missing():
    from samis.engines.ray_engine import worker_layout

    ray = EngineSpec("ray")
    # no GPU: SAM workers share the cores, one per CPU at most, never more workers than batches
    assert worker_layout(_Cluster(8), ray, n_batches=100, uses_gpu=True) == (8, 1.0, 0.0)
    assert worker_layout(_Cluster(8), EngineSpec("ray", workers=2), 100, uses_gpu=True) == (2, 4.0, 0.0)
    assert worker_layout(_Cluster(8), ray, n_batches=3, uses_gpu=True) == (3, 2.0, 0.0)
    # GPUs: one worker per GPU with a CPU to feed it; fractions share a GPU; baselines never ask for one
    assert worker_layout(_Cluster(16, gpus=4), ray, 100, uses_gpu=True) == (4, 1.0, 1.0)
    assert worker_layout(_Cluster(16, gpus=4), EngineSpec("ray", gpus_per_worker=0.5), 100, True) == (8, 1.0, 0.5)
    assert worker_layout(_Cluster(16, gpus=4), ray, 100, uses_gpu=False) == (16, 1.0, 0.0)
    with pytest.raises(EngineError) as caught:  # GPUs asked of a cluster without any
        worker_layout(_Cluster(2), EngineSpec("ray", gpus_per_worker=0.5), 100, uses_gpu=True)
    assert str(caught.value) == ("1 worker × 0.5 GPU needs 0.5 GPUs; the Ray cluster has 0 (lower --workers or "
                                 "--gpus-per-worker)")
    with pytest.raises(EngineError) as caught:
        worker_layout(_Cluster(16, gpus=2), EngineSpec("ray", workers=4), 100, uses_gpu=True)
    assert str(caught.value) == "4 workers × 1 GPU need 4 GPUs; the Ray cluster has 2 (lower --workers or --gpus-per-worker)"
    with pytest.raises(EngineError) as caught:
        worker_layout(_Cluster(2), EngineSpec("ray", workers=5), 100, uses_gpu=False)
    assert str(caught.value) == "5 workers need 5 CPUs; the Ray cluster has 2 (lower --workers)"


def test_sam_workers_need_ray(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root)
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--workers", "2")
    assert code == 2 and err.strip() == "error: --workers applies to --engine ray (a local SAM run is one process)"


class _Died(Exception):
    """Stands for Ray's ActorDiedError in the fake below."""


class _FakeRay:
    """Just enough of ray for the dispatch loop: every call runs at once; a batch holding ``poison`` kills its worker."""

    class exceptions:
        class RayTaskError(Exception):
            pass

    def __init__(self, poison: str):
        self.poison = poison
        self.killed: list[int] = []

    def actor(self, number: int):
        class Ref:
            def __init__(self, batch):
                self.batch = batch

        class Method:
            def remote(self, batch):
                return Ref(batch)

        class Actor:
            run = Method()
            id = number

        Actor.Ref = Ref
        return Actor()

    def wait(self, refs, num_returns=1):
        return [refs[0]], refs[1:]

    def get(self, ref):
        if any(key == self.poison for key, _ in ref.batch):
            raise _Died("worker died")
        return [(key, payload * 10) for key, payload in ref.batch]

    def kill(self, actor, no_restart=True):
        self.killed.append(actor.id)


def test_retries_are_bounded_and_the_images_named():
    from samis.engines.ray_engine import MAX_ATTEMPTS, _dispatch

    ray = _FakeRay(poison="img_3")
    actors = [ray.actor(i) for i in range(4)]
    batches = [[(f"img_{i}", i)] for i in range(6)]
    notes, results = [], []
    with pytest.raises(EngineError) as error:
        for item in _dispatch(ray, (_Died,), actors, batches, lambda job: job, notes.append):
            results.append(item)
    assert str(error.value) == (f"Ray workers died {MAX_ATTEMPTS} times on img_3; stopped (finished items are kept: "
                                "run again to resume)")
    assert len(ray.killed) == MAX_ATTEMPTS == len(notes) and notes[0] == ("Ray worker 2 of 4 was lost; its "
                                                                          "unfinished items go to the 3 remaining")
    assert sorted(results) == [(f"img_{i}", 10 * i) for i in (0, 1, 2, 4, 5)]  # every other image done, once
    # with fewer workers than attempts, the last worker's death stops the run naming what is left
    ray = _FakeRay(poison="img_3")
    with pytest.raises(EngineError, match=r"every Ray worker died \(2 started\); 1 item not done: img_3 "):
        list(_dispatch(ray, (_Died,), [ray.actor(0), ray.actor(1)], batches, lambda job: job, notes.append))


# ---- slow: a local Ray with 2 CPUs (conftest.py's ray_cluster) ----------------------------------------------
@pytest.fixture(scope="module")
def local_tiny_run(tmp_path_factory, folder_dataset_writer):
    """The test-size SAM on 8 toy images run locally, its oracle maps and its scores: (dataset root, workspace, json)."""
    from samis.evaluation import evaluate
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.sam.select_run import select_over_dataset
    from samis.workspace import Workspace

    base = tmp_path_factory.mktemp("ray-local")
    root, _ = folder_dataset_writer(base, n=8)
    workspace = Workspace(base / "workspace")
    dataset = register_dataset(workspace, "toy", root)
    run_sam_over_dataset(workspace, dataset, SamRun("tiny", AmgParams(**TINY), device="cpu"))
    select_over_dataset(workspace, dataset, "sam-tiny-random", "oracle")
    scores = evaluate(workspace, dataset, ["sam-tiny-random+oracle"]).to_json_dict()
    return root, workspace, scores


def _ray_tiny(workspace, root, **options):
    from samis.datasets import load_dataset
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset

    if "toy" not in workspace.registered_datasets():
        register_dataset(workspace, "toy", root)
    return run_sam_over_dataset(workspace, load_dataset(workspace, "toy"),
                                SamRun("tiny", AmgParams(**TINY), device="cpu", batch_size=2),
                                engine=EngineSpec("ray", workers=2), **options)


def _masks(workspace) -> dict[str, bytes]:
    return _tree(workspace.sam_cache_dir("sam-tiny-random", "toy"))


@pytest.mark.slow
def test_sam_on_ray_writes_the_same_bytes_as_a_local_run(ray_cluster, local_tiny_run, tmp_path):
    from samis.datasets import load_dataset
    from samis.evaluation import evaluate
    from samis.sam.select_run import select_over_dataset
    from samis.workspace import Workspace

    root, local, local_scores = local_tiny_run
    workspace = Workspace(tmp_path / "workspace")
    events, notes = [], []
    report = _ray_tiny(workspace, root, progress=events.append, notify=notes.append)
    assert len(report.computed) == 8 and report.computed == sorted(report.computed)
    assert [e.done for e in events] == list(range(9)) and events[-1].total == 8 and events[-1].eta_s == 0.0
    assert notes == ["2 Ray workers (1 CPU each) on a local Ray"]
    assert _masks(workspace) == _masks(local) and len(_masks(local)) == 8
    dataset = load_dataset(workspace, "toy")
    select_over_dataset(workspace, dataset, "sam-tiny-random", "oracle")
    maps = workspace.method_dir("toy", "sam-tiny-random+oracle")
    local_maps = local.method_dir("toy", "sam-tiny-random+oracle")
    assert {k: v for k, v in _tree(maps).items() if k.endswith(".png")} == \
        {k: v for k, v in _tree(local_maps).items() if k.endswith(".png")}
    scores = evaluate(workspace, dataset, ["sam-tiny-random+oracle"], engine=EngineSpec("ray", workers=2))
    assert scores.to_json_dict() == local_scores
    assert _results(workspace.results_dir("toy")) == _results(local.results_dir("toy"))
    assert len(_results(local.results_dir("toy"))["sam-tiny-random+oracle.parquet"]["image"]) == 8
    # resumable: what is cached is not sent again
    for stem in ("img_002", "img_005"):
        (workspace.sam_cache_dir("sam-tiny-random", "toy") / f"{stem}.npz").unlink()
    again = _ray_tiny(workspace, root)
    assert again.computed == ["img_002", "img_005"] and len(again.skipped) == 6
    assert _masks(workspace) == _masks(local)


def _embeddings(workspace) -> dict[str, tuple]:
    import numpy as np

    folder = workspace.sam_cache_dir("sam-tiny-random", "toy") / "embeddings"
    found = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as data:
            found[path.name] = (data["features"].tobytes(), data["input_size"].tolist(), str(data["key"]))
    return found


@pytest.mark.slow
def test_the_embedding_cache_works_on_ray_as_it_does_locally(ray_cluster, tmp_path, make_folder_dataset):
    """--cache-embeddings on Ray: the driver keeps the embeddings, sends them along, writes the new ones."""
    import torch

    from samis.datasets import load_dataset
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, embedding_bytes, embedding_from_bytes, run_sam_over_dataset
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=6, shape=(96, 128))
    first, second = AmgParams(**TINY), AmgParams(**{**TINY, "box_nms_thresh": 0.7})
    engines = {"local": EngineSpec(), "ray": EngineSpec("ray", workers=2)}
    workspaces = {name: Workspace(tmp_path / name) for name in engines}

    def run(name: str, params, **options):
        workspace = workspaces[name]
        known = "toy" in workspace.registered_datasets()
        dataset = load_dataset(workspace, "toy") if known else register_dataset(workspace, "toy", root)
        run = SamRun("tiny", params, device="cpu", batch_size=2, **options)
        return run_sam_over_dataset(workspace, dataset, run, engine=engines[name])

    for name in engines:
        assert len(run(name, first, cache_embeddings=True).computed) == 6
    assert _masks(workspaces["ray"]) == _masks(workspaces["local"])
    assert _embeddings(workspaces["ray"]) == _embeddings(workspaces["local"]) and len(_embeddings(workspaces["local"])) == 6
    # the next run must use what is cached, not the encoder: zero the cached features (the same in both)
    for workspace in workspaces.values():
        for path in (workspace.sam_cache_dir("sam-tiny-random", "toy") / "embeddings").glob("*.npz"):
            tag = _embeddings(workspace)[path.name][2]
            features, input_size = embedding_from_bytes(path.read_bytes(), tag)
            path.write_bytes(embedding_bytes(torch.zeros_like(features), input_size, tag))
    zeroed = _embeddings(workspaces["local"])
    for name in engines:
        assert len(run(name, second, cache_embeddings=True).computed) == 6
    assert _masks(workspaces["ray"]) == _masks(workspaces["local"])
    assert _embeddings(workspaces["ray"]) == zeroed == _embeddings(workspaces["local"])  # read, not written again
    workspaces["fresh"], engines["fresh"] = Workspace(tmp_path / "fresh"), EngineSpec()
    run("fresh", second)  # the encoder's own embeddings give other masks: the zeroed ones were used
    assert _masks(workspaces["fresh"]) != _masks(workspaces["local"])


def _kill_worker_at_first_result(number: int):
    """A progress callback that SIGKILLs Ray worker ``number`` (by its process id) once the first image is
    stored: the worker dies like a crashed one, with the batches it holds unsent."""
    from ray._private import state

    killed = []

    def progress(event) -> None:
        if event.done > 0 and not killed:
            actors = [a for a in state.actors().values()
                      if a["State"] == "ALIVE" and a["Name"].endswith(f"-worker-{number}")]
            assert len(actors) == 1, actors
            os.kill(actors[0]["Pid"], signal.SIGKILL)
            killed.append(actors[0]["Pid"])

    return progress, killed


@pytest.mark.slow
def test_a_worker_that_dies_mid_run_loses_and_duplicates_nothing(ray_cluster, local_tiny_run, tmp_path):
    from samis.workspace import Workspace

    root, local, _ = local_tiny_run
    progress, killed = _kill_worker_at_first_result(1)  # the first worker dies while it holds a batch
    workspace = Workspace(tmp_path / "workspace")
    notes = []
    report = _ray_tiny(workspace, root, notify=notes.append, progress=progress)
    assert len(killed) == 1
    assert "Ray worker 1 of 2 was lost; its unfinished items go to the 1 remaining" in notes
    assert len(report.computed) == 8 and len(set(report.computed)) == 8
    assert _masks(workspace) == _masks(local)


@pytest.mark.slow
def test_work_left_when_every_worker_died_is_named(ray_cluster, local_tiny_run, tmp_path):
    from samis.datasets import load_dataset
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.workspace import Workspace

    root, _, _ = local_tiny_run
    progress, killed = _kill_worker_at_first_result(1)  # the only worker dies after its first batch came back
    workspace = Workspace(tmp_path / "workspace")
    register_dataset(workspace, "toy", root)
    with pytest.raises(EngineError) as error:
        run_sam_over_dataset(workspace, load_dataset(workspace, "toy"),
                             SamRun("tiny", AmgParams(**TINY), device="cpu", batch_size=2),
                             engine=EngineSpec("ray", workers=1), progress=progress)
    assert len(killed) == 1
    message = str(error.value)
    assert "\n" not in message and message.startswith("every Ray worker died (1 started); ")
    left = message.split("items not done: ")[1].split(" (")[0].split(", ")
    done = sorted(p.stem for p in workspace.sam_cache_dir("sam-tiny-random", "toy").iterdir())
    assert sorted(left + done) == [f"img_{i:03d}" for i in range(8)]  # each image is either written or named
    assert len(done) == 2 and not [p for p in workspace.sam_cache_dir("sam-tiny-random", "toy").iterdir()
                                   if p.name.startswith(".")]


@pytest.mark.slow
def test_baselines_and_scores_on_ray_equal_a_local_run(ray_cluster, tmp_path, make_folder_dataset):
    from samis.baselines.run import compute_baseline
    from samis.evaluation import evaluate
    from samis.workspace import Workspace

    from samis.image_level import evaluate_image_level

    root, _ = make_folder_dataset(n=30, empty_gt=8)  # enough images for the local process pool; 8 good parts
    results = {}
    for name in ("local", "ray"):
        workspace = Workspace(tmp_path / name)
        dataset = register_dataset(workspace, "toy", root)
        engine = EngineSpec(name, workers=2 if name == "ray" else None)
        for method in ("mbd", "ft"):
            run = compute_baseline(workspace, dataset, method, engine=engine)
            assert run.computed == 30
        scores = evaluate(workspace, dataset, ["mbd", "ft"], engine=engine)
        image_level = evaluate_image_level(workspace, dataset, ["mbd", "ft"], engine=engine)
        assert image_level.computed == 60
        maps = {k: v for k, v in _tree(workspace.root / "predictions").items() if k.endswith(".png")}
        results[name] = (maps, scores.to_json_dict(), _results(workspace.results_dir("toy")),
                         image_level.to_json_dict(), _results(workspace.results_dir("toy") / "image_level"))
    assert len(results["local"][0]) == 60 and len(results["local"][4]) == 3  # two methods and the ground-truth table
    assert results["ray"] == results["local"]


INTERRUPT_AFTER_SECOND_MASK_FILE = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a terminal delivers it, whatever the runner's
real_replace, written = os.replace, []

def replace(source, target, *args, **kwargs):
    real_replace(source, target, *args, **kwargs)
    if str(target).endswith(".npz") and "cache" in str(target):
        written.append(target)
        if len(written) == 2:
            os.kill(os.getpid(), signal.SIGINT)

os.replace = replace
from samis.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_ctrl_c_keeps_finished_images_stops_workers_and_resumes(fresh_ray_cluster, tmp_path, make_folder_dataset):
    from samis.sam.masks import read_mask_set
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=16, shape=(96, 128))
    workspace = Workspace(tmp_path / "workspace")
    register_dataset(workspace, "toy", root)
    address = fresh_ray_cluster.get_runtime_context().gcs_address
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace.root)}
    # the CLI in a fresh interpreter that sends itself Ctrl-C (SIGINT) right after its second mask file is in place
    interrupted = (INTERRUPT_AFTER_SECOND_MASK_FILE, "sam", "toy", "--model", "tiny", *TINY_ARGS, "--selection",
                   "none", "--no-progress", "--engine", "ray", "--ray-address", address, "--workers", "2")
    driver = subprocess.run([sys.executable, "-c", *interrupted], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    folder = workspace.sam_cache_dir("sam-tiny-random", "toy")
    err = driver.stderr
    assert driver.returncode == 130, err[-2000:]
    assert "interrupted: finished files are kept" in err
    kept = sorted(folder.glob("*.npz"))
    assert len(kept) == 2 and not [p for p in folder.iterdir() if p.name.startswith(".")]
    for path in kept:
        read_mask_set(path)
    deadline = time.monotonic() + 30  # the driver's workers are gone: the cluster's CPUs are free again
    while time.monotonic() < deadline and fresh_ray_cluster.available_resources().get("CPU", 0) < 2:
        time.sleep(0.2)
    assert fresh_ray_cluster.available_resources().get("CPU", 0) == 2
    resumed = _ray_tiny(workspace, root)
    assert len(resumed.skipped) == len(kept) and len(resumed.computed) == 16 - len(kept)


@pytest.mark.slow
def test_run_page_computes_baselines_on_ray(ray_cluster, make_study):
    from streamlit.testing.v1 import AppTest

    workspace = make_study(12)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.query_params.update({"tab": "Baselines", "engine": "ray"})
    at.switch_page("pages/run.py").run()
    at.multiselect(key="bl_methods").set_value(["otsu"]).run()
    at.number_input(key="run_ray_workers").set_value(2).run()
    at.button(key="bl_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("otsu" in s.value and "12 computed" in s.value for s in at.success), [s.value for s in at.success]
    assert len(list(workspace.method_dir("toy", "otsu").glob("*.png"))) == 12


class _GrpcRefusal:
    """``baseline toy otsu --engine ray`` in a fresh interpreter against a port that passes samis's protocol check
    and then never answers Ray: started, timed and watched here, in the background."""

    def __init__(self, base: Path, writer):
        from samis.workspace import Workspace

        root, _ = writer(base, n=4)
        self.workspace = Workspace(base / "workspace")
        register_dataset(self.workspace, "toy", root)
        self.before = _tree(self.workspace.root)
        self.listener = _Listener(_SETTINGS)  # passes samis's protocol check, then never answers Ray
        env = {**os.environ, "SAMIS_WORKSPACE": str(self.workspace.root)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "samis", "baseline", "toy", "otsu", "--engine", "ray",
                                         "--ray-address", self.listener.address], cwd=REPO, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ended: list[float] = []
        self.output: list[tuple[str, str]] = []
        self.watcher = threading.Thread(target=self._watch, daemon=True)
        self.watcher.start()

    def _watch(self) -> None:
        self.output.append(self.process.communicate())
        self.ended.append(time.perf_counter())

    def result(self, timeout: float = 120) -> tuple[int, float, str]:
        """(exit code, seconds from start to exit, stderr), once the child has ended (killed after ``timeout``)."""
        self.watcher.join(max(0.0, self.started + timeout - time.perf_counter()))
        if self.watcher.is_alive():
            self.stop()
            pytest.fail(f"the child did not end within {timeout:.0f} s")
        return self.process.returncode, self.ended[0] - self.started, self.output[0][1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.watcher.join(30)
        self.listener.close()


@pytest.fixture(scope="module", autouse=True)
def grpc_refusal(request, tmp_path_factory, folder_dataset_writer):
    """The child of the test below, started when this module starts (it spends 25 s waiting on a port that never
    answers: the other tests run meanwhile instead of waiting for it); None when that test is not selected."""
    name = "test_a_grpc_port_that_is_no_ray_cluster_is_refused_in_time"
    if not any(item.name == name for item in request.session.items):
        yield None
        return
    child = _GrpcRefusal(tmp_path_factory.mktemp("grpc-refusal"), folder_dataset_writer)
    try:
        yield child
    finally:
        child.stop()


@pytest.mark.slow
def test_a_grpc_port_that_is_no_ray_cluster_is_refused_in_time(grpc_refusal):
    """A port that speaks HTTP/2 (so passes the check) but is no Ray cluster: the run gives up after 25 s in one
    line and writes nothing. The child runs from this module's start (fixture ``grpc_refusal``); it is judged here."""
    code, elapsed, stderr = grpc_refusal.result()
    address = grpc_refusal.listener.address
    assert code == 2 and elapsed < 45, (code, elapsed)
    lines = stderr.strip().splitlines()
    assert lines[-1] == (f"error: no Ray cluster answered at {address} within 25 s (the port is "
                         "open: is it the address `ray start --head` printed?)")
    # before it, at most Ray's own C++ retry warnings ("[time W pid tid] rpc_client.h: …"), which samis cannot silence
    assert all(line.startswith("[") and " W " in line for line in lines[:-1]), lines
    assert _tree(grpc_refusal.workspace.root) == grpc_refusal.before


@pytest.mark.slow
def test_sam2_on_ray_writes_the_same_bytes_as_a_local_run(ray_cluster, tmp_path, make_folder_dataset):
    """The test-size SAM 2 through the same Ray loop: its workers load it once and the driver writes the same files."""
    pytest.importorskip("sam2")
    from samis.datasets import load_dataset
    from samis.sam.params import Sam2AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.workspace import Workspace

    params = Sam2AmgParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.9)
    root, _ = make_folder_dataset(n=4)
    trees = []
    for name, engine in (("local", None), ("ray", EngineSpec("ray", workers=2))):
        workspace = Workspace(tmp_path / name)
        register_dataset(workspace, "toy", root)
        report = run_sam_over_dataset(workspace, load_dataset(workspace, "toy"),
                                      SamRun("tiny-sam2", params, device="cpu", batch_size=1 if engine else 4),
                                      engine=engine)
        assert len(report.computed) == 4
        trees.append(_tree(workspace.sam_cache_dir("sam2-tiny-random", "toy")))
    assert len(trees[0]) == 4 and trees[0] == trees[1]


class _FakeRayConnection:
    """Stands in for the ray module where only connecting and disconnecting matter: records both in ``events``."""

    def __init__(self, events: list, lock=None):
        import threading

        self.events, self.lock, self.connected = events, lock or threading.Lock(), False

    def is_initialized(self):
        return self.connected

    def init(self, **options):
        with self.lock:
            self.events.append("init")
        self.connected = True

    def shutdown(self):
        with self.lock:
            self.events.append("shutdown")
        self.connected = False


def test_ray_runs_in_one_process_share_one_connection(monkeypatch):
    """A Ray connection is process-wide: a second run (another dashboard session) shares the first one's, and
    Ray is stopped only when the last run ends (the first one finishing must not take the second's workers);
    a run asking for another cluster meanwhile is refused in one line."""
    import threading

    from samis.engines import ray_engine

    events, lock = [], threading.Lock()
    fake = _FakeRayConnection(events, lock)
    monkeypatch.setattr(ray_engine, "_import_ray", lambda: fake)
    first_inside, second_inside, first_left = threading.Event(), threading.Event(), threading.Event()
    refused = []

    def first():
        with ray_engine.ray_session(EngineSpec("ray")):
            first_inside.set()
            second_inside.wait(5)
            try:
                with ray_engine.ray_session(EngineSpec("ray", address="127.0.0.1:1")):
                    pass
            except EngineError as error:
                refused.append(str(error))
        with lock:
            events.append("first left")
        first_left.set()

    def second():
        first_inside.wait(5)
        with ray_engine.ray_session(EngineSpec("ray")):
            with lock:
                events.append("second in")
            second_inside.set()
            first_left.wait(5)
            with lock:
                events.append("second still works")  # Ray was not stopped under it

    check = EngineSpec.checked
    monkeypatch.setattr(EngineSpec, "checked", lambda self: self if self.address else check(self))  # no TCP probe
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert events == ["init", "second in", "first left", "second still works", "shutdown"]
    assert refused == ["another run in this process is using Ray at a local Ray; run on 127.0.0.1:1 when it has "
                       "finished"]
    assert ray_engine._SHARED["runs"] == 0


def test_an_engine_session_keeps_one_ray_across_runs(monkeypatch):
    """``baseline … all --engine ray`` (and the Run page) connect once for all baselines, not once per baseline."""
    from samis.engines import engine_session, ray_engine

    events = []
    monkeypatch.setattr(ray_engine, "_import_ray", lambda: fake)
    fake = _FakeRayConnection(events)
    with engine_session(EngineSpec("ray")):
        for run in ("ft", "mbd", "otsu"):
            with ray_engine.ray_session(EngineSpec("ray")):
                events.append(run)
    assert events == ["init", "ft", "mbd", "otsu", "shutdown"]
    with engine_session(EngineSpec("local")):  # the local engine starts nothing
        pass
    assert events[-1] == "shutdown" and len(events) == 5


@pytest.mark.slow
def test_a_new_task_runs_on_ray_with_no_code_beyond_the_task(ray_cluster, tmp_path):
    """The toy task of tests/toy_task.py (a load, a worker, a store) on Ray: the same files as a local run."""
    import toy_task
    from samis.runner import run_task

    ray_cluster.cloudpickle.register_pickle_by_value(toy_task)  # the workers cannot import the tests folder
    rng = np.random.default_rng(5)
    (tmp_path / "images").mkdir()
    paths = []
    for i in range(7):
        paths.append(tmp_path / "images" / f"t{i}.png")
        Image.fromarray(rng.integers(0, 256, (12, 10 + i), dtype=np.uint8)).save(paths[-1])
    local = run_task(toy_task.task(), toy_task.units(paths), toy_task.store(tmp_path / "local"))
    on_ray = run_task(toy_task.task(), toy_task.units(paths), toy_task.store(tmp_path / "ray"),
                      engine=EngineSpec("ray", workers=2))
    assert sorted(u.id for u in on_ray.computed) == sorted(u.id for u in local.computed) and len(local.computed) == 7
    assert _tree(tmp_path / "ray") == _tree(tmp_path / "local")
