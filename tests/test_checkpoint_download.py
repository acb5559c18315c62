"""The checkpoint manager against a local HTTP server: full, interrupted and resumed, refused downloads;
the mirror variable; a server ignoring Range; ``checkpoints list`` / ``verify`` output."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import threading

import pytest

from samis.checkpoint_download import NO_HASH_NOTE, checkpoint_status, download_checkpoint, verify_checkpoint
from samis.cli import main
from samis.errors import CheckpointError
from samis.models import CheckpointFacts

PAYLOAD = bytes(range(256)) * 4000  # 1,024,000 made-up bytes


class _Server:
    """A file server on 127.0.0.1: honours ``Range`` (unless told not to), may cut the connection after N bytes."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.cut_after: int | None = None  # bytes sent before the connection is dropped (once)
        self.honour_range = True
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                name = self.path.rsplit("/", 1)[-1]
                if name not in server.files:
                    self.send_error(404)
                    return
                data, start = server.files[name], 0
                header = self.headers.get("Range")
                if header and server.honour_range:
                    start = int(header.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[:server.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the client hanging up on a cut connection is part of the test

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    serving = _Server({"fake_vit_b_%s.pth" % hashlib.md5(PAYLOAD).hexdigest()[:6]: PAYLOAD})
    yield serving
    serving.close()


@pytest.fixture
def facts():
    """A made-up SAM-like catalogue entry: name carries the MD5 prefix, exact size known."""
    prefix = hashlib.md5(PAYLOAD).hexdigest()[:6]
    return CheckpointFacts("fake_b", "sam", "made-up SAM", f"fake_vit_b_{prefix}.pth", "http://unused.invalid/",
                           len(PAYLOAD), len(PAYLOAD), prefix)


def test_full_download_with_progress(server, facts, tmp_path):
    events = []
    report = download_checkpoint(facts, tmp_path / "ck", base_url=server.base, progress=events.append)
    target = tmp_path / "ck" / facts.file
    assert target.read_bytes() == PAYLOAD
    assert not list((tmp_path / "ck").glob("*.part"))
    assert report.size == len(PAYLOAD) and report.downloaded == len(PAYLOAD) and report.resumed_from == 0
    assert "MD5 prefix matches (prefix only; full hash not published)" in report.summary()
    assert "match the official file" not in report.summary()
    assert events[-1].done == events[-1].total == len(PAYLOAD) and events[-1].unit == "bytes"
    assert server.requests[0]["range"] is None
    # a second call finds the whole file and fetches nothing
    again = download_checkpoint(facts, tmp_path / "ck", base_url=server.base)
    assert again.already_present and len(server.requests) == 1


def test_interrupted_download_resumes_with_range(server, facts, tmp_path):
    server.cut_after = 300_000
    with pytest.raises(CheckpointError, match="connection lost after 300,000 of 1,024,000 bytes.*resume"):
        download_checkpoint(facts, tmp_path, base_url=server.base)
    part = tmp_path / (facts.file + ".part")
    assert part.stat().st_size == 300_000 and not (tmp_path / facts.file).exists()
    report = download_checkpoint(facts, tmp_path, base_url=server.base)
    assert server.requests[1]["range"] == "bytes=300000-"
    assert report.resumed_from == 300_000 and report.downloaded == len(PAYLOAD) - 300_000
    assert (tmp_path / facts.file).read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_from_zero(server, facts, tmp_path):
    (tmp_path / (facts.file + ".part")).write_bytes(PAYLOAD[:5000])
    server.honour_range = False
    report = download_checkpoint(facts, tmp_path, base_url=server.base)
    assert server.requests[0]["range"] == "bytes=5000-"  # asked, got 200 and the whole file
    assert report.resumed_from == 0 and (tmp_path / facts.file).read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_nothing_is_left(server, facts, tmp_path):
    import dataclasses

    wrong = dataclasses.replace(facts, md5_prefix="000000")
    with pytest.raises(CheckpointError) as caught:
        download_checkpoint(wrong, tmp_path, base_url=server.base)
    message = str(caught.value)
    assert "does not match the official file (starts 000000)" in message and "removed the download" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_from_the_server_is_refused(server, facts, tmp_path):
    import dataclasses

    with pytest.raises(CheckpointError, match="offers 1,024,000 bytes but the official"):
        download_checkpoint(dataclasses.replace(facts, size=999), tmp_path, base_url=server.base)
    assert list(tmp_path.iterdir()) == []


def test_mirror_variable_replaces_the_official_base(server, facts, tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIS_CHECKPOINT_MIRROR", server.base)
    report = download_checkpoint(facts, tmp_path)
    assert report.url == server.base + facts.file
    assert server.requests[0]["path"] == "/files/" + facts.file


def test_unreachable_and_missing_urls_are_one_line(server, facts, tmp_path):
    import dataclasses

    with pytest.raises(CheckpointError, match=r"/files/nothing.pth: the server answered HTTP 404"):
        download_checkpoint(dataclasses.replace(facts, file="nothing.pth"), tmp_path, base_url=server.base)
    closed = server.base.replace(server.base.split(":")[2].split("/")[0], "9")  # nothing listens on port 9
    with pytest.raises(CheckpointError, match="cannot reach the server") as caught:
        download_checkpoint(facts, tmp_path, base_url=closed)
    assert closed in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="unknown model 'vit_q'; choose one of vit_h"):
        download_checkpoint("vit_q", tmp_path)
    assert not list(tmp_path.glob("*.part"))



@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_is_one_line_and_leaves_no_whole_looking_file(server, facts, tmp_path, monkeypatch):
    import pathlib

    real_open = pathlib.Path.open

    def open_full(self, mode="r", *args, **kwargs):  # the .part lands on a disk with no space left
        if self.name.endswith(".part") and "b" in mode and ("w" in mode or "a" in mode):
            return real_open(pathlib.Path("/dev/full"), "wb")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", open_full)
    with pytest.raises(CheckpointError) as caught:
        download_checkpoint(facts, tmp_path, base_url=server.base)
    message = str(caught.value)
    assert "disk full" in message and facts.file + ".part" in message and "\n" not in message
    assert not (tmp_path / facts.file).exists()  # nothing carries the official name

def _sam2_tiny_like_state():
    import torch

    state = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(96, 3, 1, 1)}
    for block in range(12):
        state[f"image_encoder.trunk.blocks.{block}.norm1.weight"] = torch.zeros(1)
    return {"model": state}


def test_no_published_hash_checks_completeness_and_weights(tmp_path):
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(_sam2_tiny_like_state(), buffer)
    data = buffer.getvalue()
    serving = _Server({"sam2.1_hiera_tiny.pt": data, "sam2.1_hiera_large.pt": data})
    try:
        report = download_checkpoint("hiera_t", tmp_path, base_url=serving.base)
        assert NO_HASH_NOTE in report.checked and (tmp_path / "sam2.1_hiera_tiny.pt").read_bytes() == data
        # tiny weights under the large model's name: refused, nothing left
        with pytest.raises(CheckpointError, match="holds hiera_t weights, not hiera_l; removed the download"):
            download_checkpoint("hiera_l", tmp_path, base_url=serving.base)
        assert not (tmp_path / "sam2.1_hiera_large.pt").exists()
        assert not list(tmp_path.glob("*.part"))
    finally:
        serving.close()


# ---- the command ------------------------------------------------------------------------------------------------
def test_cli_list_download_verify(server, facts, tmp_path, workspace, monkeypatch, capsys):
    assert main(["checkpoints", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["checkpoints"]
    assert [c["model"] for c in listed] == ["vit_h", "vit_l", "vit_b", "hiera_t", "hiera_s", "hiera_b+", "hiera_l",
                                            "hq_vit_h", "hq_vit_l", "hq_vit_b", "evit_l0", "evit_l1", "evit_l2",
                                            "evit_xl0", "evit_xl1", "sam3"]
    vit_b = listed[2]
    assert vit_b["file"] == "sam_vit_b_01ec64.pth" and vit_b["size"] == 375_042_383 and vit_b["md5_prefix"] == "01ec64"
    assert vit_b["url"] == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"
    assert vit_b["state"] == "missing"
    tiny = listed[3]
    assert tiny["url"] == "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    assert tiny["hash"] == "not published" and tiny["size"] is None
    assert tiny["config"] == "configs/sam2.1/sam2.1_hiera_t.yaml"

    # a made-up vit_b in the catalogue, served locally through the mirror variable
    import samis.checkpoint_download as download_module

    monkeypatch.setattr(download_module, "checkpoint_catalogue", lambda: {"vit_b": facts})
    monkeypatch.setenv("SAMIS_CHECKPOINT_MIRROR", server.base)
    assert main(["checkpoints", "download", "vit_b"]) == 0
    assert "MD5 prefix matches (prefix only; full hash not published)" in capsys.readouterr().out
    assert (workspace.checkpoints_dir / facts.file).read_bytes() == PAYLOAD
    assert main(["checkpoints", "list"]) == 0
    table = capsys.readouterr().out
    # random bytes whose MD5 starts like the official file's: checked as far as a prefix goes, never "verified"
    assert any(line.startswith("fake_b") and line.rstrip().endswith("checked") for line in table.splitlines()), table
    assert "verified" not in table.split("folder:")[0]

    # verify: a made-up file is not weights; a SAM 2.1-shaped one is told by its shape
    assert main(["checkpoints", "verify", str(workspace.checkpoints_dir / facts.file)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "not a readable PyTorch checkpoint" in error and "\n" not in error
    import torch

    weights = tmp_path / "mine.pt"
    torch.save(_sam2_tiny_like_state(), weights)
    assert main(["checkpoints", "verify", str(weights), "--format", "json"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified["model"] == "hiera_t" and verified["size"] == weights.stat().st_size
    assert verified["md5"] == hashlib.md5(weights.read_bytes()).hexdigest()


def test_cli_verify_names_the_sam_type(tmp_path, capsys):
    import torch

    state = {"image_encoder.pos_embed": torch.zeros(1, 2, 2, 768),
             "image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 1, 1)}
    state.update({f"image_encoder.blocks.{b}.norm1.weight": torch.zeros(1) for b in range(12)})
    path = tmp_path / "my_sam.pth"
    torch.save(state, path)
    assert main(["checkpoints", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "vit_b weights" in out and "not an official file name" in out
    # an official name whose contents are not the official file
    official = tmp_path / "sam_vit_b_01ec64.pth"
    official.write_bytes(path.read_bytes())
    assert main(["checkpoints", "verify", str(official)]) == 2
    assert "but the official file has 375,042,383" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="no such file"):
        verify_checkpoint(tmp_path / "absent.pth")


# ---- issue 26: the mirror, a folder in the way, a wrong-size file, a kept .part, prefix-only hashes ---------------
@pytest.mark.parametrize("mirror", ["notaurl", "ftp://host/ck/", "/just/a/path"])
def test_a_mirror_that_is_not_an_http_https_or_file_url_is_one_line(mirror, workspace, monkeypatch, capsys):
    monkeypatch.setenv("SAMIS_CHECKPOINT_MIRROR", mirror)
    assert main(["checkpoints", "download", "vit_b"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"error: SAMIS_CHECKPOINT_MIRROR={mirror!r} is not a URL; give the folder holding the checkpoints "
                     "as http://…, https://… or file:///…")


def test_a_file_url_mirror_downloads(facts, tmp_path):
    source = tmp_path / "mirror"
    source.mkdir()
    (source / facts.file).write_bytes(PAYLOAD)
    report = download_checkpoint(facts, tmp_path / "ck", base_url=source.as_uri() + "/")
    assert (tmp_path / "ck" / facts.file).read_bytes() == PAYLOAD and report.size == len(PAYLOAD)


def test_a_folder_at_the_checkpoint_path_is_named_and_refused_before_any_download(server, facts, tmp_path):
    (tmp_path / facts.file).mkdir()
    status = checkpoint_status(facts, tmp_path)
    assert status.state == "not a file" and "is a folder, not the checkpoint file" in status.note
    with pytest.raises(CheckpointError) as caught:
        download_checkpoint(facts, tmp_path, base_url=server.base)
    assert str(caught.value) == (f"{tmp_path / facts.file} is a folder, not the checkpoint file; remove or move it, "
                                 "then run 'python -m samis checkpoints download fake_b'")
    assert server.requests == []  # nothing fetched


def test_a_wrong_size_file_at_the_target_says_what_to_do(server, facts, tmp_path):
    (tmp_path / facts.file).write_bytes(PAYLOAD[:1000])
    status = checkpoint_status(facts, tmp_path)
    assert status.state == "wrong size" and "remove or move it, then run 'python -m samis checkpoints download" \
        in status.note
    with pytest.raises(CheckpointError) as caught:
        download_checkpoint(facts, tmp_path, base_url=server.base)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / facts.file}: 1,000 bytes but the official file has 1,024,000")
    assert message.endswith("remove or move it, then run 'python -m samis checkpoints download fake_b'")
    assert (tmp_path / facts.file).stat().st_size == 1000 and server.requests == []


def test_a_good_part_is_kept_when_a_mirror_offers_a_wrong_size(server, facts, tmp_path):
    part = tmp_path / (facts.file + ".part")
    part.write_bytes(PAYLOAD[:5000])
    server.honour_range = False  # this mirror sends a whole file of another size
    other = _Server({facts.file: PAYLOAD + b"x" * 10})
    try:
        with pytest.raises(CheckpointError, match="offers 1,024,010 bytes but the official"):
            download_checkpoint(facts, tmp_path, base_url=other.base)
    finally:
        other.close()
    assert part.read_bytes() == PAYLOAD[:5000]
    report = download_checkpoint(facts, tmp_path, base_url=server.base)  # the official server: it resumes
    assert (tmp_path / facts.file).read_bytes() == PAYLOAD and report.size == len(PAYLOAD)


def test_a_prefix_forgery_is_never_called_verified_and_a_full_hash_is(server, facts, tmp_path):
    """Random bytes whose MD5 starts with the prefix in the name pass what can be checked; they are 'checked'
    with 'prefix only' said, never 'verified'. Only a full published MD5 makes a file 'verified'."""
    report = download_checkpoint(facts, tmp_path, base_url=server.base)
    assert "MD5 prefix matches (prefix only; full hash not published)" in report.checked
    status = checkpoint_status(facts, tmp_path)
    assert status.state == "checked" and "prefix only" in status.note
    assert facts.hash_text == f"md5 {facts.md5_prefix}… (prefix only)"
    full = dataclasses.replace(facts, md5=hashlib.md5(PAYLOAD).hexdigest())
    assert checkpoint_status(full, tmp_path).state == "verified" and full.hash_text == f"md5 {full.md5}"
    forged = dataclasses.replace(facts, md5="0" * 32)
    assert checkpoint_status(forged, tmp_path).state == "wrong hash"


def test_the_catalogue_says_prefix_only_for_sam_and_not_published_for_sam2():
    from samis.models import checkpoint_catalogue

    catalogue = checkpoint_catalogue()
    assert catalogue["vit_h"].hash_text == "md5 4b8939… (prefix only)" and catalogue["vit_h"].md5 is None
    assert all(catalogue[k].hash_text == "not published" for k in ("hiera_t", "hiera_s", "hiera_b+", "hiera_l"))
