"""Case review store (issue 27): concurrency, kills, schema versions, damage, read-only, bad input, CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from samis import review
from samis.review import ReviewError, ReviewStore, SCHEMA_VERSION, exclusion

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_tags_notes_audit_and_sets(tmp_path):
    store = ReviewStore(tmp_path)
    assert store.tags("d") == [] and not (tmp_path / "review.sqlite").exists()  # reading makes no file
    assert store.add_tag("d", "a", "gt error", author="ann")
    assert not store.add_tag("d", "a", " gt error ", author="bob")  # the same tag, stripped
    assert store.add_tag("d", "a", "boundary", method="sam", author="bob")
    store.add_note("d", "a", "<script>alert(1)</script> **not bold**", author="ann")
    store.add_note("d", "a", "second thoughts", author="ann")
    assert store.remove_tag("d", "a", "gt error", author="cy")
    assert not store.remove_tag("d", "a", "gt error", author="cy")
    assert [(t.image, t.method, t.tag, t.author) for t in store.tags("d")] == [("a", "sam", "boundary", "bob")]
    assert [n.text for n in store.notes("d")] == ["<script>alert(1)</script> **not bold**", "second thoughts"]
    assert [(a.action, a.tag, a.author) for a in store.audit("d")] == [
        ("add", "gt error", "ann"), ("add", "boundary", "bob"), ("remove", "gt error", "cy")]
    made = store.create_set("d", "bad ones", ["b", "a", "b"], description="from Cases", filter_text="kind=bad", author="ann")
    assert made.images == ("b", "a") and store.review_set("d", "bad ones").images == ("b", "a")
    with pytest.raises(ReviewError, match="already exists"):
        store.create_set("d", "bad ones", ["c"], author="ann")
    assert store.vocabulary("d")[:7] == list(review.DEFAULT_TAGS)
    with sqlite3.connect(tmp_path / "review.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("call, message", [
    (lambda s: s.add_tag("d", "a", "  ", author="ann"), "tag is empty"),
    (lambda s: s.add_note("d", "a", "x" * 10_001, author="ann"), "10,001 characters"),
    (lambda s: s.create_set("d", "../up", ["a"], author="ann"), "not allowed"),
    (lambda s: s.create_set("d", "a/b", ["a"], author="ann"), "not allowed"),
    (lambda s: s.add_tag("d", "a", "x", author=""), "author is empty"),
])
def test_bad_input_is_one_line_and_stores_nothing(tmp_path, call, message):
    store = ReviewStore(tmp_path)
    store.add_tag("d", "a", "kept", author="ann")
    with pytest.raises(ReviewError, match=message) as error:
        call(store)
    assert "\n" not in str(error.value)
    assert [t.tag for t in store.tags("d")] == ["kept"] and store.notes("d") == [] and store.sets("d") == []
    assert store.add_note("d", "a", "x" * 10_000, author="ann")  # the limit itself is kept


def test_eight_processes_fifty_writes_each(tmp_path):
    code = """
        import sys
        from samis.review import ReviewStore
        worker = int(sys.argv[1])
        store = ReviewStore(sys.argv[2])
        for i in range(50):
            assert store.add_tag("d", f"img{i % 7}", f"w{worker}-t{i}", method="m" if i % 2 else "", author=f"w{worker}")
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(w), str(tmp_path)], env=env,
                                  stderr=subprocess.PIPE, text=True) for w in range(8)]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    store = ReviewStore(tmp_path)
    tags = store.tags("d")
    assert len(tags) == 400 and {t.tag for t in tags} == {f"w{w}-t{i}" for w in range(8) for i in range(50)}
    audit = store.audit("d")
    assert len(audit) == 400 and all(a.action == "add" for a in audit)
    assert {(a.image, a.method, a.tag, a.author) for a in audit} == {(t.image, t.method, t.tag, t.author) for t in tags}
    with sqlite3.connect(tmp_path / "review.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_kill_during_a_write_keeps_every_committed_tag(tmp_path):
    # the 21st write is killed (SIGKILL) inside its transaction, after its rows were inserted
    process = _python(f"""
        import os, signal
        from samis import review
        calls = []
        def hook():
            calls.append(1)
            if len(calls) == 21:
                os.kill(os.getpid(), signal.SIGKILL)
        review._before_commit = hook
        store = review.ReviewStore({str(tmp_path)!r})
        for i in range(40):
            store.add_tag("d", "img", f"t{{i}}", author="k")
            store.add_note("d", "img", f"n{{i}}", author="k") if i < 5 else None
    """)
    process.wait(timeout=120)
    assert process.returncode == -9
    store = ReviewStore(tmp_path)
    assert {t.tag for t in store.tags("d")} == {f"t{i}" for i in range(15)}  # 20 commits: 5 notes, 15 tags
    assert len(store.notes("d")) == 5 and len(store.audit("d")) == 15
    with sqlite3.connect(tmp_path / "review.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.add_tag("d", "img", "after", author="k")  # and it takes writes again


def test_a_damaged_database_is_moved_aside(tmp_path):
    (tmp_path / "review.sqlite").write_bytes(b"this is not a database" * 100)
    store = ReviewStore(tmp_path)
    with pytest.warns(UserWarning, match="damaged"):
        assert store.add_tag("d", "a", "x", author="ann")
    assert store.moved_aside is not None and store.moved_aside.read_bytes().startswith(b"this is not")
    assert [t.tag for t in store.tags("d")] == ["x"]


def test_a_newer_database_is_refused_and_left_alone(tmp_path):
    store = ReviewStore(tmp_path)
    store.add_tag("d", "a", "x", author="ann")
    with sqlite3.connect(tmp_path / "review.sqlite") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = (tmp_path / "review.sqlite").read_bytes()
    for call in (lambda: store.tags("d"), lambda: store.add_tag("d", "a", "y", author="ann")):
        with pytest.raises(ReviewError, match="newer samis") as error:
            call()
        assert "\n" not in str(error.value)
    assert (tmp_path / "review.sqlite").read_bytes() == before
    assert not list(tmp_path.glob("*.damaged-*"))


def test_read_only_store_and_read_only_mount(tmp_path):
    ReviewStore(tmp_path).add_tag("d", "a", "x", author="ann")
    with pytest.raises(ReviewError, match="read-only"):
        ReviewStore(tmp_path, read_only=True).add_tag("d", "a", "y", author="ann")
    # a read-only folder (a read-only mount): opened with mode=ro&immutable=1, still readable
    os.chmod(tmp_path, 0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as root: a read-only folder cannot be made here")
        assert [t.tag for t in ReviewStore(tmp_path).tags("d")] == ["x"]
    finally:
        os.chmod(tmp_path, 0o755)


def test_immutable_read_only_connection_reads_a_wal_database(tmp_path, monkeypatch):
    store = ReviewStore(tmp_path)
    store.add_tag("d", "a", "x", author="ann")
    monkeypatch.setattr(review.os, "access", lambda path, mode: False)  # as on a read-only mount
    reader = ReviewStore(tmp_path, read_only=True)
    connection = reader._read_only_connection()
    connection.close()
    assert [t.tag for t in reader.tags("d")] == ["x"]


def test_author_from_environment(monkeypatch):
    monkeypatch.setenv("SAMIS_USER", " ann ")
    assert review.default_author() == "ann"
    monkeypatch.delenv("SAMIS_USER")
    assert review.default_author()


def test_exclusion_says_whose_tags(tmp_path):
    store = ReviewStore(tmp_path)
    store.add_tag("d", "a", "gt error", author="ann")
    store.add_tag("d", "b", "gt error", method="m", author="bob")
    store.add_tag("d", "b", "gt error", author="ann")
    store.add_tag("d", "c", "boundary", author="ann")
    found = exclusion(store, "d", ["gt error"])
    assert found.images == {"a", "b"}
    assert found.describe() == "left out 2 images tagged 'gt error' (tags by ann: 2, bob: 1)"


@pytest.fixture(scope="module")
def toy_workspace(tmp_path_factory, folder_dataset_writer):
    """A workspace with the toy folder dataset (12 images, img_000 … img_011) and methods good and weak."""
    from samis.datasets import register_dataset
    from samis.store import import_predictions
    from samis.workspace import Workspace

    base = tmp_path_factory.mktemp("review")
    root, preds = folder_dataset_writer(base, n=12, empty_gt=1)
    workspace = Workspace(base / "workspace")
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    return workspace.root


def _cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "samis", "--workspace", str(workspace), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_cli_add_list_remove_and_bad_input(toy_workspace):
    workspace = toy_workspace
    ok = _cli(workspace, "review", "add", "toy", "img_001", "--tag", "gt error", "--note", "<b>half</b>",
              "--author", "ann")
    assert ok.returncode == 0, ok.stderr
    assert _cli(workspace, "review", "add", "toy", "img_001", "--method", "good", "--tag", "boundary").returncode == 0
    listed = json.loads(_cli(workspace, "review", "list", "toy", "--format", "json").stdout)
    assert {(t["image"], t["method"], t["tag"]) for t in listed["tags"]} == {("img_001", "", "gt error"),
                                                                             ("img_001", "good", "boundary")}
    assert listed["notes"][0]["text"] == "<b>half</b>"
    for bad, message in ((["nosuch", "--tag", "x"], "no image"), (["img_001", "--method", "zz", "--tag", "x"], "unknown method"),
                         (["img_001", "--tag", ""], "tag is empty"), (["img_001", "--note", "x" * 10_001], "10,001")):
        result = _cli(workspace, "review", "add", "toy", *bad)
        assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _cli(workspace, "review", "remove", "toy", "img_001", "--tag", "gt error").returncode == 0
    table = _cli(workspace, "review", "list", "toy").stdout
    assert "boundary" in table and "gt error" not in table and "<b>half</b>" in table
    assert "no review sets" in _cli(workspace, "review", "sets", "toy").stdout
