"""Commands that run no model import neither torch nor segment_anything, nor ray (each checked in a fresh interpreter).

Importing torch alone takes seconds; ``datasets list`` used to pay for it because the CLI imports
every command module to build its parser. Each case runs one command in a subprocess, so modules
imported by earlier tests cannot hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samis.datasets import load_dataset, register_dataset
from samis.evaluation import evaluate
from samis.store import import_predictions
from samis.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "segment_anything", "ray")
MARK = "SAMIS-HEAVY-MODULES "

_PROBE = """
import json, sys
{call}
print()
print({mark!r} + json.dumps([m for m in {heavy!r} if m in sys.modules]))
sys.exit(code)
"""


def _probe(call: str, workspace: Path) -> list[str]:
    """Run ``call`` (which sets ``code``) in a fresh interpreter; the heavy modules it left imported."""
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _PROBE.format(call=call, mark=MARK, heavy=HEAVY)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    marked = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert marked, done.stdout[-2000:]
    return json.loads(marked[-1][len(MARK):])


@pytest.fixture
def study(tmp_path, make_folder_dataset):
    """A workspace with dataset ``toy`` (6 images), two imported methods, already evaluated (cached)."""
    workspace = Workspace(tmp_path / "workspace")
    root, preds = make_folder_dataset(n=6)
    register_dataset(workspace, "toy", root)
    dataset = load_dataset(workspace, "toy")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, preds[method])
    evaluate(workspace, dataset, ["good", "weak"], "all")
    return workspace, root, preds


def test_help_builds_every_parser_without_torch(study):
    workspace, _, _ = study
    call = "from samis.cli import build_parser\nbuild_parser().format_help()\ncode = 0"
    assert _probe(call, workspace.root) == []


@pytest.mark.parametrize("argv", [
    ["datasets", "list"],
    ["datasets", "list", "--format", "json"],
    ["datasets", "add", "toy2", "{root}"],
    ["datasets", "remove", "toy"],
    ["predictions", "list", "toy"],
    ["predictions", "import", "toy", "again", "{good}"],
    ["evaluate", "toy", "--methods", "good,weak"],
    ["evaluate", "toy", "--format", "markdown"],
    ["report", "sd900", "--paper", "--format", "json"],
    ["report", "mt-7:3", "--paper"],
    ["report", "toy", "--measured", "--format", "csv"],
    ["checkpoints", "list"],
    ["checkpoints", "list", "--format", "json"],
], ids=" ".join)
def test_commands_that_run_no_model_import_no_torch(study, argv):
    workspace, root, preds = study
    argv = [a.format(root=root, good=preds["good"]) for a in argv]
    call = f"from samis.cli import main\ncode = main({['--workspace', str(workspace.root), *argv]!r})"
    assert _probe(call, workspace.root) == []


def test_masks_command_reads_the_cache_without_torch(masks_workspace, tmp_path):
    """The Fig. 4 figure and the mask table come from the cache: no model, no torch."""
    root = masks_workspace.root
    for argv in (["masks", "toy", "img_001", "--format", "json"],
                 ["masks", "toy", "img_001", "--format", "png", "-o", str(tmp_path / "f.png")]):
        call = f"from samis.cli import main\ncode = main({['--workspace', str(root), *argv]!r})"
        assert _probe(call, root) == []
    assert (tmp_path / "f.png").stat().st_size > 0


def test_image_level_evaluation_imports_no_torch(tmp_path, make_folder_dataset):
    workspace = Workspace(tmp_path / "goodparts")
    root, preds = make_folder_dataset(n=6, name="parts", empty_gt=2)
    register_dataset(workspace, "parts", root)
    import_predictions(workspace, load_dataset(workspace, "parts"), "good", preds["good"])
    call = f"from samis.cli import main\ncode = main({['--workspace', str(workspace.root), 'evaluate', 'parts', '--image-level', '--format', 'json']!r})"
    assert _probe(call, workspace.root) == []


def test_checkpoint_download_imports_no_torch(study, tmp_path, serve_bytes):
    """A download of a file with a published hash streams and checks it without torch."""
    import hashlib

    payload = b"made-up weights " * 1000
    name = f"fake_{hashlib.md5(payload).hexdigest()[:6]}.pth"
    url = serve_bytes(payload)
    workspace, _, _ = study
    call = ("from samis.checkpoint_download import download_checkpoint\n"
            "from samis.models import CheckpointFacts\n"
            f"facts = CheckpointFacts('fake', 'sam', 'made-up', {name!r}, {url!r}, "
            f"{len(payload)}, {len(payload)}, {name[5:11]!r})\n"
            f"download_checkpoint(facts, {str(tmp_path)!r})\ncode = 0")
    assert _probe(call, workspace.root) == []
    assert (tmp_path / name).read_bytes() == payload


def test_the_probe_sees_torch_when_a_command_imports_it(study):
    """The check is not vacuous: the SAM engine's import is seen."""
    workspace, _, _ = study
    call = "import samis.sam.engine\ncode = 0"
    assert _probe(call, workspace.root) == ["torch", "segment_anything"]
    call = "from samis.engines.ray_engine import _import_ray\n_import_ray()\ncode = 0"
    assert _probe(call, workspace.root) == ["ray"]  # imported by the Ray engine only, when a run uses it


def test_md_and_markdown_are_one_format_name_everywhere():
    """Issue 20, item 12: `markdown` and `md` are accepted wherever a command writes Markdown."""
    from samis.cli import build_parser

    parser = build_parser()
    for command in (["evaluate", "toy"], ["report", "sd900"], ["speed"], ["metrics"]):
        for name in ("md", "markdown", "MD", "Markdown"):
            assert parser.parse_args([*command, "--format", name]).format == "markdown", (command, name)
