"""Bad output targets: ``-o`` at a device node, FIFO, symlink or folder, and standard output on a full device.

Device nodes are made here with ``os.mknod`` (copies of /dev/null's and /dev/full's numbers), so nothing
under /dev is ever touched; the tests are skipped where nodes cannot be made or opened (not root, nodev).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from samis.cli import main
from samis.outputs import OutputError, OutputWriteError, write_output

REPO = Path(__file__).resolve().parents[1]


def _device_like(tmp_path: Path, model: str, name: str) -> Path:
    """A character device with the numbers of ``model`` (/dev/null, /dev/full), made in ``tmp_path``."""
    if not os.path.exists(model):
        pytest.skip(f"needs {model}")
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.stat(model).st_rdev)
        os.close(os.open(node, os.O_WRONLY))
    except OSError as error:  # not root, or a nodev mount
        pytest.skip(f"cannot make a device node here: {error}")
    return node


def _is_same_device(path: Path, model: str) -> bool:
    info = path.lstat()
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == os.stat(model).st_rdev


def test_a_null_like_device_is_written_in_place_not_replaced(tmp_path):
    node = _device_like(tmp_path, "/dev/null", "null")
    write_output(node, "text")
    assert _is_same_device(node, "/dev/null")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left either


def test_a_full_device_is_a_write_error_and_stays_a_device(tmp_path):
    node = _device_like(tmp_path, "/dev/full", "full")
    with pytest.raises(OutputWriteError) as caught:
        write_output(node, b"x" * 10)
    assert caught.value.errno == 28 and caught.value.filename == str(node)
    assert _is_same_device(node, "/dev/full")


def test_a_fifo_is_written_to_its_reader_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_dangling_symlink_is_followed_and_kept(tmp_path):
    link = tmp_path / "link.html"
    link.symlink_to(tmp_path / "target.html")
    write_output(link, "one")
    assert link.is_symlink() and (tmp_path / "target.html").read_text() == "one"
    write_output(link, "two")  # now pointing at a regular file: the target is replaced, the link kept
    assert link.is_symlink() and (tmp_path / "target.html").read_text() == "two"


def test_a_symlink_to_a_device_writes_the_device(tmp_path):
    node = _device_like(tmp_path, "/dev/null", "null")
    link = tmp_path / "out"
    link.symlink_to(node)
    write_output(link, "text")
    assert link.is_symlink() and _is_same_device(node, "/dev/null")


@pytest.mark.parametrize("make", ["folder", "socket", "loop"])
def test_what_cannot_hold_a_file_is_refused_in_one_line(tmp_path, make):
    import socket

    path = tmp_path / "out"
    if make == "folder":
        path.mkdir()
    elif make == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(path)
    with pytest.raises(OutputError, match="give the path of a file") as caught:
        write_output(path, "text")
    assert "\n" not in str(caught.value)
    assert path.is_dir() if make == "folder" else True
    if make == "socket":
        assert stat.S_ISSOCK(path.lstat().st_mode)
        server.close()


def test_report_to_a_full_device_is_one_line_exit_1(tmp_path, capsys):
    node = _device_like(tmp_path, "/dev/full", "full")
    code = main(["report", "sd900", "--paper", "--format", "html", "-o", str(node)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert _is_same_device(node, "/dev/full")


def test_report_to_a_null_device_and_to_a_folder(tmp_path, capsys):
    node = _device_like(tmp_path, "/dev/null", "null")
    assert main(["report", "sd900", "--paper", "--format", "csv", "-o", str(node)]) == 0
    assert _is_same_device(node, "/dev/null")
    capsys.readouterr()
    assert main(["report", "sd900", "--paper", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err


def test_masks_png_to_a_device_node(masks_workspace, tmp_path, capsys):
    node = _device_like(tmp_path, "/dev/null", "null")
    assert main(["masks", "toy", "img_000", "--format", "png", "-o", str(node)]) == 0
    assert _is_same_device(node, "/dev/null")
    full = _device_like(tmp_path, "/dev/full", "full")
    capsys.readouterr()
    assert main(["masks", "toy", "img_000", "-o", str(full)]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: cannot write")
    assert _is_same_device(full, "/dev/full")


@pytest.mark.parametrize("command", [["checkpoints", "list"], ["report", "sd900", "--paper"],
                                     ["report", "sd900", "--paper", "-o", "-"], ["datasets", "list"]])
def test_standard_output_on_a_full_device_is_one_line_exit_1(tmp_path, workspace, make_folder_dataset, command):
    full = _device_like(tmp_path, "/dev/full", "full")
    if command[0] == "datasets":  # a registered dataset, so no demo is built
        from samis.datasets import register_dataset

        register_dataset(workspace, "toy", make_folder_dataset(n=3)[0])
    with open(full, "wb") as stdout:
        done = subprocess.run([sys.executable, "-m", "samis", "--workspace", str(workspace.root), *command],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write standard output: No space left on device\n"


def test_a_closed_pipe_stays_quiet(tmp_path, workspace):
    process = subprocess.Popen([sys.executable, "-m", "samis", "report", "sd900", "--paper", "--format", "csv"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    process.stdout.close()  # the reader left before anything was written
    assert process.wait(timeout=300) == 0
    assert process.stderr.read() == b""
    process.stderr.close()
