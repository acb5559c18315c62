"""Speed table: the timing protocol, subjects from baselines and SAM, SAM parameter counts, Table 7 beside."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from samis.cli import main
from samis.errors import ReportError
from samis.speed import (
    SpeedSubject, TimingProtocol, baseline_subjects, explain_parameter_gap, measure_fps, parse_checkpoint_options,
    sam_parameter_breakdown, sam_subjects, speed_report, split_speed_methods, synthetic_image,
)


class _FakeClock:
    """Stands in for ``time`` in samis.speed.timing: ``perf_counter`` reads a clock that only the fake
    workload moves, so the timed values are known exactly and no test sleeps."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class _Clocked:
    """A fake workload on a fake clock: each call queues ``seconds[i]`` of work (cycling over the list) that
    completes, moving the clock, only at the next synchronisation, as a GPU's queued kernels do. It records
    the calls, the synchronisations and the image shapes."""

    def __init__(self, seconds, clock: _FakeClock | None = None):
        self.seconds = list(seconds) if isinstance(seconds, (list, tuple)) else [seconds]
        self.clock, self.pending = clock or _FakeClock(), 0.0
        self.calls, self.syncs, self.shapes = 0, 0, []

    def run(self, image):
        self.pending += self.seconds[self.calls % len(self.seconds)]
        self.calls += 1
        self.shapes.append(image.shape)

    def sync(self):
        self.syncs += 1
        self.clock.now += self.pending
        self.pending = 0.0


@pytest.fixture
def clock(monkeypatch) -> _FakeClock:
    from samis.speed import timing

    fake = _FakeClock()
    monkeypatch.setattr(timing, "time", fake)
    return fake


def _subject(work: _Clocked, **kwargs) -> SpeedSubject:
    return SpeedSubject(method="fake", label="fake", params_m=1.5, size_mb=6.0, run=work.run, device="cpu",
                        synchronize=work.sync, **kwargs)


def test_measure_fps_protocol_warmup_runs_sync_and_median(clock):
    # two warm-up calls of 1 s each (outside the timers), then five timed ones of 5, 1, 3, 2, 4 ms
    work = _Clocked([1.0, 1.0, 0.005, 0.001, 0.003, 0.002, 0.004], clock)
    images = [np.zeros((20, 30, 3), np.uint8), np.zeros((40, 50, 3), np.uint8)]
    row = measure_fps(_subject(work), images, warmup=2, runs=5)
    assert work.calls == 7 and row.runs == 5 and row.warmup == 2
    assert work.syncs == 1 + 2 * 5  # after warm-up, then before and after each timed run
    assert work.shapes[:3] == [(20, 30, 3), (40, 50, 3), (20, 30, 3)]  # cycles over the images
    # the queued work completes at the synchronisation: inside the timer, warm-up outside it
    assert (row.ms_min, row.ms_q1, row.ms_median, row.ms_q3, row.ms_max) == pytest.approx((1, 2, 3, 4, 5), abs=1e-9)
    assert row.fps == pytest.approx(1000.0 / 3)
    assert row.image_size == "30x20..50x40" and row.source == "measured"
    assert (row.params_m, row.size_mb) == (1.5, 6.0)


def test_time_budget_stops_slow_subjects_after_min_runs(clock):
    # 0.25 s a run (exact in binary): after 3 runs 0.75 s were spent, after 4 runs 1.0 s
    for budget, runs in ((0.01, 3), (0.8, 4), (1.1, 5), (None, 100)):
        row = measure_fps(_subject(_Clocked(0.25, clock)), [synthetic_image()], warmup=0, runs=100,
                          time_budget_s=budget)
        assert row.runs == runs, budget


def test_measure_fps_bad_input():
    with pytest.raises(ReportError, match="no images"):
        measure_fps(_subject(_Clocked(0)), [])
    with pytest.raises(ReportError, match="runs must be at least 1"):
        measure_fps(_subject(_Clocked(0)), [synthetic_image()], runs=0)


def test_synthetic_image_is_deterministic_rgb_200():
    image = synthetic_image()
    assert image.shape == (200, 200, 3) and image.dtype == np.uint8
    assert np.array_equal(image, synthetic_image()) and image.std() > 0


def _linear(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def _conv(i: int, o: int, k: int, bias: bool = True) -> int:  # also a transposed convolution's count
    return i * o * k * k + (o if bias else 0)


def _norm(d: int) -> int:  # LayerNorm / LayerNorm2d: weight and bias
    return 2 * d


def sam_parameters_from_the_architecture(dim: int, depth: int, heads: int) -> tuple[int, int, int]:
    """(image encoder, prompt encoder, mask decoder) parameters of segment_anything's ``build_sam``, counted
    layer by layer from the published architecture (Kirillov et al. 2023, and segment_anything/build_sam.py):
    ViT of width ``dim`` on 1024 px with 16 px patches (a 64 x 64 grid), 14 x 14 windows except 4 global
    blocks, decomposed relative positions per head, MLP ratio 4, a 256-channel neck; a 256-wide prompt
    encoder; a two-way transformer of depth 2 (MLP 2048, cross-attention downsampled 2x) and 4 mask tokens."""
    head = dim // heads
    block = 2 * _norm(dim) + _linear(dim, 3 * dim) + _linear(dim, dim) + _linear(dim, 4 * dim) + _linear(4 * dim, dim)
    rel_pos = lambda size: 2 * (2 * size - 1) * head  # noqa: E731 - rel_pos_h and rel_pos_w
    encoder = (_conv(3, dim, 16) + 64 * 64 * dim + depth * block + (depth - 4) * rel_pos(14) + 4 * rel_pos(64)
               + _conv(dim, 256, 1, bias=False) + _norm(256) + _conv(256, 256, 3, bias=False) + _norm(256))
    prompt = (4 * 256 + 256 + 256  # 4 point embeddings, not-a-point, no-mask (the Fourier matrix is a buffer)
              + _conv(1, 4, 2) + _norm(4) + _conv(4, 16, 2) + _norm(16) + _conv(16, 256, 1))

    def attention(d: int, downsample: int = 1) -> int:
        return 3 * _linear(d, d // downsample) + _linear(d // downsample, d)

    two_way_block = attention(256) + 2 * attention(256, 2) + _linear(256, 2048) + _linear(2048, 256) + 4 * _norm(256)
    mlp3 = lambda out: 2 * _linear(256, 256) + _linear(256, out)  # noqa: E731
    decoder = (256 + 4 * 256 + 2 * two_way_block + attention(256, 2) + _norm(256)  # IoU and mask tokens, transformer
               + _conv(256, 64, 2) + _norm(64) + _conv(64, 32, 2) + 4 * mlp3(32) + mlp3(4))
    return encoder, prompt, decoder


@pytest.mark.parametrize("model_type, dim, depth, heads", [("vit_b", 768, 12, 12), ("vit_l", 1024, 24, 16),
                                                            ("vit_h", 1280, 32, 16)])
def test_sam_parameter_counts_equal_the_architecture(model_type, dim, depth, heads):
    encoder, prompt, decoder = sam_parameters_from_the_architecture(dim, depth, heads)
    counted = sam_parameter_breakdown(model_type)
    assert counted["image_encoder"] * 1e6 == pytest.approx(encoder, abs=0.5)
    assert counted["prompt_encoder"] * 1e6 == pytest.approx(prompt, abs=0.5)
    assert counted["mask_decoder"] * 1e6 == pytest.approx(decoder, abs=0.5)
    assert counted["total"] * 1e6 == pytest.approx(encoder + prompt + decoder, abs=0.5)
    assert counted["pos_embed"] * 1e6 == pytest.approx(64 * 64 * dim, abs=0.5)


def test_sam_parameter_gap_to_the_paper():
    h = sam_parameter_breakdown("vit_h")
    # 635.9 M: SAM's count as the paper's Table 7 prints it (data/paper/table7_speed.csv); 635.85 M is the
    # built count less the position embedding, 641.09 - 5.24, and 0.05 M its distance from the print
    line = explain_parameter_gap(h, 635.9)
    assert "641.1 M" in line and "635.9 M" in line and "635.85 M" in line and "0.05 M" in line
    with pytest.raises(ReportError, match="unknown SAM model type"):
        sam_parameter_breakdown("vit_x")


def test_baseline_subjects_follow_the_registry_contract(monkeypatch):
    calls = []
    fake = types.ModuleType("samis.baselines")
    fake.BASELINES = {"flat": types.SimpleNamespace(name="flat", title="Flat map",
                                                    function=lambda im: calls.append(im.shape) or np.zeros(im.shape[:2]))}
    monkeypatch.setitem(sys.modules, "samis.baselines", fake)
    subjects, notes = baseline_subjects()
    assert [s.method for s in subjects] == ["flat"] and notes == []
    assert subjects[0].params_m == 0 and subjects[0].device.startswith("cpu")
    row = measure_fps(subjects[0], [synthetic_image()], warmup=1, runs=3)
    assert len(calls) == 4 and row.fps > 0
    with pytest.raises(ReportError, match="unknown baseline 'nope'"):
        baseline_subjects(["nope"])


def test_sam_subjects_time_only_with_checkpoint_or_tiny(monkeypatch):
    requested = []

    def sam_speed_subject(model_type, checkpoint, device):
        requested.append((model_type, checkpoint, device))
        work = _Clocked(0.001)
        return SpeedSubject(method=f"sam-{model_type}", label=model_type, params_m=1.0, size_mb=None,
                            run=work.run, device="cpu", note="random weights" if model_type == "tiny" else "")

    package = types.ModuleType("samis.sam")
    engine = types.ModuleType("samis.sam.engine")
    engine.sam_speed_subject = sam_speed_subject
    package.engine = engine
    monkeypatch.setitem(sys.modules, "samis.sam", package)
    monkeypatch.setitem(sys.modules, "samis.sam.engine", engine)
    subjects, rows, notes = sam_subjects({"tiny": None, "vit_b": "/ck/sam_vit_b_01ec64.pth", "vit_h": None}, "cpu")
    assert requested == [("tiny", None, "cpu"), ("vit_b", "/ck/sam_vit_b_01ec64.pth", "cpu")]
    assert [s.method for s in subjects] == ["sam-tiny", "sam-vit_b"]
    assert [r.method for r in rows] == ["sam-vit_h"] and rows[0].fps is None
    assert rows[0].params_m * 1e6 == pytest.approx(sum(sam_parameters_from_the_architecture(1280, 32, 16)), abs=0.5)
    assert any("635.9 M" in n for n in notes)


def test_method_and_checkpoint_parsing():
    assert split_speed_methods(["ft", "sam-tiny-random", "sam-vit_b", "vit_h"], ["ft", "hc"]) == (
        ["ft"], {"tiny": None, "vit_b": None, "vit_h": None})
    assert split_speed_methods(None, ["ft"]) == (["ft"], {"tiny": None, "vit_h": None, "vit_l": None, "vit_b": None})
    with pytest.raises(ReportError, match="unknown method 'sam-vit_x'"):
        split_speed_methods(["sam-vit_x"], ["ft"])
    assert parse_checkpoint_options(["/a/sam_vit_h_4b8939.pth", "vit_b=/b/weights.pth"]) == {
        "vit_h": "/a/sam_vit_h_4b8939.pth", "vit_b": "/b/weights.pth"}
    with pytest.raises(ReportError, match="cannot tell the SAM model type"):
        parse_checkpoint_options(["/a/model.pth"])


def test_speed_report_on_dataset_images_with_table7(workspace, make_folder_dataset, monkeypatch):
    from samis.datasets import register_dataset

    fake = types.ModuleType("samis.baselines")
    fake.BASELINES = {"flat": types.SimpleNamespace(name="flat", title="Flat", function=lambda im: np.zeros(im.shape[:2]))}
    monkeypatch.setitem(sys.modules, "samis.baselines", fake)
    root, _ = make_folder_dataset(n=4, shape=(30, 40))
    register_dataset(workspace, "toy", root)
    table = speed_report(workspace, methods=["flat"], dataset="toy",
                         protocol=TimingProtocol(warmup=1, runs=3, n_images=2))
    measured = [r for r in table.rows if r.source == "measured"]
    paper = [r for r in table.rows if r.source == "paper"]
    assert [r.method for r in measured] == ["flat"] and measured[0].image_size == "40x30"
    assert measured[0].runs == 3 and measured[0].fps > 0
    assert len(paper) == 10 and paper[-1].fps == 0.2 and "RTX 3080" in paper[-1].device
    assert "first 2 images of dataset 'toy'" in table.images
    text = table.to_text()
    assert "RTX 3080" in text and "warm-up" in text
    markdown = table.to_markdown()
    assert "| SAM | paper | NVIDIA GeForce RTX 3080 (10 GB) | 635.9 | 1228.8 | 0.2 |" in markdown
    document = table.to_json_document()
    assert document["rows"][0]["method"] == "flat" and document["protocol"].startswith("batch 1")


def test_cli_speed_real_baselines_json(capsys):
    pytest.importorskip("samis.baselines")
    assert main(["speed", "--methods", "ft,otsu", "--warmup", "1", "--runs", "3", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    measured = {r["method"]: r for r in document["rows"] if r["source"] == "measured"}
    assert set(measured) == {"ft", "otsu"}
    for row in measured.values():
        assert row["fps"] > 0 and row["runs"] == 3 and row["params_m"] == 0 and row["image_size"] == "200x200"
    assert "synthetic 200x200" in document["images"]


def test_cli_speed_bad_method_exits_2(capsys):
    assert main(["speed", "--methods", "sam-vit_x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown method 'sam-vit_x'") and err.count("\n") == 1
