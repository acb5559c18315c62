"""Official checkpoints on disk: find one by name, download it (resumable, checked), say what is there.

A download streams into ``<file>.part`` beside the target. After an interruption the next run asks
the server for the rest only (HTTP ``Range: bytes=N-``); a server that ignores the range and sends
the whole file (200 instead of 206) is read from the start again. The size and the hash are checked
on the ``.part`` file; only then is it renamed into place (``os.replace``: atomic), so a file with
the official name is always whole. A hash or weights mismatch removes the ``.part`` file; a server
offering a file of the wrong size is refused before anything is fetched and the ``.part`` is kept.

SAM files carry the start of their MD5 in their name, and no full hash is published: a matching
prefix is reported as "MD5 prefix matches (prefix only; full hash not published)", a file is listed
as ``checked``, never ``verified`` (kept for a full published hash). For SAM 2.1 no size or hash is
published where samis could read it, so a download is checked for completeness (the server's
Content-Length) and for loadable weights of the right model type (this loads torch, lazily), and says so.

Checked files are recorded in ``<folder>/.verified.json`` (by name, size and modification time),
which :func:`checkpoint_status` reads so that listing never hashes gigabytes.

``SAMIS_CHECKPOINT_MIRROR=http://host/path/`` replaces the official base URL (sites behind a proxy);
it must be an ``http``, ``https`` or ``file`` URL.

This module imports neither torch nor streamlit.
"""

from __future__ import annotations

import dataclasses
import errno
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from samis import __version__
from samis.errors import CheckpointError, SamisError
from samis.file_hashes import _read_json, file_md5, md5_cache_file, remember_md5  # noqa: F401  (re-exported)
from samis.imageio import write_text_atomic
from samis.models import RUNNABLE_MODELS, CheckpointFacts, checkpoint_catalogue
from samis.runs import ProgressCallback, ProgressTracker, Report

MIRROR_VARIABLE = "SAMIS_CHECKPOINT_MIRROR"
PART_SUFFIX = ".part"
VERIFIED_RECORD = ".verified.json"
NO_HASH_NOTE = "hash not published here: checked that the download is complete (Content-Length) and loadable"
PREFIX_ONLY_NOTE = "MD5 prefix matches (prefix only; full hash not published)"
MIRROR_SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 20


# ---- names ------------------------------------------------------------------------------------------
def find_checkpoint(name: str) -> CheckpointFacts:
    """The catalogue entry of a model name (``vit_h``, ``hiera_l``), label (``sam-vit_h``) or file name.

    Raises:
        CheckpointError: the name is not in the catalogue (the message lists the known names).
    """
    catalogue = checkpoint_catalogue()
    if name in catalogue:
        return catalogue[name]
    labels = {m.label: m.key for m in RUNNABLE_MODELS.values()}
    if name in labels and labels[name] in catalogue:
        return catalogue[labels[name]]
    by_file = {facts.file: facts for facts in catalogue.values()}
    if name in by_file:
        return by_file[name]
    raise CheckpointError(f"unknown model {name!r}; choose one of {', '.join(catalogue)}")


def mirror_base() -> str | None:
    """The base URL of ``$SAMIS_CHECKPOINT_MIRROR``, or None when it is not set.

    Raises:
        CheckpointError: the value is not an http, https or file URL (one line).
    """
    value = os.environ.get(MIRROR_VARIABLE, "").strip()
    return check_base_url(value, MIRROR_VARIABLE) if value else None


def check_base_url(value: str, source: str = "the base URL") -> str:
    """``value`` when it is an ``http``, ``https`` or ``file`` URL (the folder that holds the checkpoints).

    Raises:
        CheckpointError: any other value, named with where it came from.
    """
    parts = urllib.parse.urlsplit(value)
    if parts.scheme.lower() not in MIRROR_SCHEMES or not (parts.netloc or parts.path):
        raise CheckpointError(f"{source}={value!r} is not a URL; give the folder holding the checkpoints as "
                              "http://…, https://… or file:///…")
    return value


# ---- hashing and the record of checked files -------------------------------------------------------------
def record_verified(path: Path, md5: str, checked: str, model: str | None) -> None:
    """Note in ``<folder>/.verified.json`` that ``path`` (as it is now: size, mtime) passed its checks."""
    path = Path(path)
    record_file = path.parent / VERIFIED_RECORD
    record = _read_json(record_file)
    stat = path.stat()
    record[path.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": md5, "checked": checked,
                         "model": model}
    try:
        write_text_atomic(record_file, json.dumps(record, indent=1))
    except OSError:
        pass  # a read-only folder: the file is fine, listing will only not know it was checked


def _verified_entry(path: Path) -> dict | None:
    entry = _read_json(path.parent / VERIFIED_RECORD).get(path.name)
    if not isinstance(entry, dict):
        return None
    stat = path.stat()
    return entry if entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns else None


# ---- status (for listing) -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CheckpointStatus:
    """One catalogue entry and what lies in a folder for it.

    Attributes:
        facts: the catalogue entry.
        path: where the file belongs.
        state: ``verified`` (size and the full published hash match), ``checked`` (the checks samis can make
            passed: size and MD5 prefix for SAM, completeness and weights for SAM 2.1; no full hash is
            published), ``present`` (not checked yet), ``wrong size``, ``not a file`` (a folder in the way),
            ``partial`` (a ``.part`` to resume) or ``missing``.
        note: one line for people.
    """

    facts: CheckpointFacts
    path: Path
    state: str
    note: str

    def as_dict(self) -> dict:
        facts = self.facts
        return {"model": facts.model, "family": facts.family, "title": facts.title, "file": facts.file,
                "size": facts.size, "approx_size": facts.approx_size, "md5_prefix": facts.md5_prefix,
                "hash": facts.hash_text, "url": facts.url, "config": facts.config, "path": str(self.path),
                "state": self.state, "note": self.note}


def checkpoint_status(facts: CheckpointFacts, folder: Path) -> CheckpointStatus:
    """What ``folder`` holds for one catalogue entry (hashes nothing: reads the record of checked files)."""
    path = Path(folder) / facts.file
    part = path.with_name(path.name + PART_SUFFIX)
    if path.exists() and not path.is_file():
        return CheckpointStatus(facts, path, "not a file", f"{_in_the_way(path)}: {_redo(facts)}")
    if path.is_file():
        size = path.stat().st_size
        if facts.size is not None and size != facts.size:
            return CheckpointStatus(facts, path, "wrong size", f"{size:,} bytes, the official file has "
                                                               f"{facts.size:,}: {_redo(facts)}")
        entry = _verified_entry(path)
        if entry:
            return CheckpointStatus(facts, path, *_checked_state(facts, entry))
        return CheckpointStatus(facts, path, "present", "not checked yet: run 'checkpoints verify'")
    if part.is_file():
        total = f" of {facts.size:,}" if facts.size else ""
        return CheckpointStatus(facts, path, "partial", f"{part.stat().st_size:,}{total} bytes downloaded: "
                                                        "run 'checkpoints download' again to resume")
    return CheckpointStatus(facts, path, "missing", "")


def _checked_state(facts: CheckpointFacts, entry: dict) -> tuple[str, str]:
    """(state, note) of a file recorded as checked: ``verified`` only where a full published hash matched.
    The note is said again from the facts, not read from the record (older records said "match")."""
    md5 = str(entry.get("md5", ""))
    if facts.md5:
        return ("verified", "size and full MD5 match the official file") if md5 == facts.md5 else (
            "wrong hash", f"MD5 differs from the official file: {_redo(facts)}")
    if facts.md5_prefix:
        return "checked", f"size matches the official file; {PREFIX_ONLY_NOTE}"
    return "checked", entry.get("checked", NO_HASH_NOTE)


def _in_the_way(path: Path) -> str:
    return f"{path} is a {'folder' if path.is_dir() else 'special file'}, not the checkpoint file"


def _redo(facts: CheckpointFacts) -> str:
    """What to do about a file at the official name that is not the official file."""
    return f"remove or move it, then run 'python -m samis checkpoints download {facts.model}'"


def list_checkpoints(folder: Path) -> list[CheckpointStatus]:
    """Every catalogue entry with what ``folder`` holds for it."""
    return [checkpoint_status(facts, folder) for facts in checkpoint_catalogue().values()]


# ---- download ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class DownloadReport(Report):
    """What a download did.

    Attributes:
        model: the catalogue name.
        path: the checked file, in place.
        url: where it came from.
        size: its size in bytes.
        md5: its MD5.
        downloaded: bytes fetched by this run.
        resumed_from: bytes already there from an interrupted run (0: started afresh).
        seconds: wall time.
        already_present: the file was there and whole; nothing was fetched.
        checked: what was checked, for people.
    """

    model: str
    path: Path
    url: str
    size: int
    md5: str
    downloaded: int
    resumed_from: int
    seconds: float
    already_present: bool
    checked: str

    def summary(self) -> str:
        if self.already_present:
            return f"{self.path}: already there ({self.size:,} bytes); {self.checked}"
        resumed = f", resumed at {self.resumed_from:,}" if self.resumed_from else ""
        return (f"{self.path}: {self.size:,} bytes from {self.url}{resumed} in {self.seconds:.1f} s; "
                f"{self.checked}")


def download_checkpoint(model: str | CheckpointFacts, folder: str | os.PathLike, *, base_url: str | None = None,
                        progress: ProgressCallback | None = None, timeout: float = 30.0,
                        hash_cache: Path | None = None) -> DownloadReport:
    """Download an official checkpoint into ``folder``, resuming a ``.part`` left by an interrupted run.

    Args:
        model: a catalogue name, label or file name (see :func:`find_checkpoint`), or the facts themselves.
        folder: where the file goes (made if missing).
        base_url: the folder URL to fetch from; default ``$SAMIS_CHECKPOINT_MIRROR``, else the official one.
        progress: called with :class:`samis.runs.RunProgress` events counting bytes.
        timeout: seconds to wait for the server to connect or to send the next bytes.
        hash_cache: the SAM runs' MD5 cache file, told the new file's MD5 so no run hashes it again.

    Returns:
        a :class:`DownloadReport`.

    Raises:
        CheckpointError: unknown model, unreachable server, an HTTP error, a lost connection (the ``.part``
            stays, to resume), a full disk, or a file whose size, hash or weights are not the official
            ones (the ``.part`` is removed). An existing file of the official name that fails its checks
            is left alone and refused.
    """
    facts = model if isinstance(model, CheckpointFacts) else find_checkpoint(model)
    url = facts.url_from(check_base_url(base_url, "base_url") if base_url else mirror_base())
    folder = Path(folder).expanduser()
    started = time.perf_counter()
    target = folder / facts.file
    if target.exists() and not target.is_file():  # refused before fetching hundreds of MB
        raise CheckpointError(f"{_in_the_way(target)}; {_redo(facts)}")
    if target.is_file():
        md5, checked = _check_present(target, facts, url)
        record_verified(target, md5, checked, facts.model)
        return DownloadReport(facts.model, target, url, target.stat().st_size, md5, 0, 0,
                              time.perf_counter() - started, True, checked)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(f"{folder}: cannot create the checkpoint folder ({error.strerror})") from None
    part = target.with_name(target.name + PART_SUFFIX)
    resumed_from, downloaded = _fetch(url, part, facts, progress, timeout)
    try:
        md5, checked = _check_file(part, facts, url, complete_note="complete (Content-Length)")
    except SamisError as error:
        part.unlink(missing_ok=True)
        raise CheckpointError(f"{error}; removed the download {part.name}") from None
    os.replace(part, target)
    record_verified(target, md5, checked, facts.model)
    if hash_cache is not None:
        remember_md5(target, md5, hash_cache)
    return DownloadReport(facts.model, target, url, target.stat().st_size, md5, downloaded, resumed_from,
                          time.perf_counter() - started, False, checked)


def _check_present(target: Path, facts: CheckpointFacts, url: str) -> tuple[str, str]:
    """The checks of a file already at the official name; a failure says what to do about it."""
    try:
        return _check_file(target, facts, url, complete_note="already complete")
    except CheckpointError as error:
        raise CheckpointError(f"{target}: {str(error).removeprefix(facts.file + ': ')}; it is not the official "
                              f"file: {_redo(facts)}") from None


def _request(url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"samis/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416:
            return error  # range not satisfiable: the caller decides
        raise CheckpointError(f"{url}: the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        raise CheckpointError(f"{url}: cannot reach the server ({reason}); check the network or set "
                              f"{MIRROR_VARIABLE} to a reachable copy") from None


def _fetch(url: str, part: Path, facts: CheckpointFacts, progress, timeout: float) -> tuple[int, int]:
    """Bring ``part`` to the whole file: returns (bytes resumed from an earlier run, bytes fetched now)."""
    offset = part.stat().st_size if part.is_file() else 0
    if facts.size is not None and offset > facts.size:
        part.unlink()
        offset = 0
    response = _request(url, offset, timeout)
    if getattr(response, "code", None) == 416:  # the .part may already be whole, or be damaged
        response.close()
        if facts.size is not None and offset == facts.size:
            return offset, 0
        part.unlink(missing_ok=True)
        offset = 0
        response = _request(url, 0, timeout)
    with response:
        if offset and response.status != 206:  # the server ignored the range: it sends the whole file
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if facts.size is not None and total is not None and total != facts.size:
            kept = f"; kept {part.name} ({offset:,} bytes) to resume" if part.is_file() and offset else ""
            raise CheckpointError(f"{url}: the server offers {total:,} bytes but the official {facts.file} has "
                                  f"{facts.size:,}; not downloaded (is the mirror holding another file?){kept}")
        expected = total if total is not None else facts.size
        tracker = ProgressTracker(progress, expected or facts.approx_size, f"download {facts.file}",
                                  done=offset, unit="bytes").start()
        fetched = 0
        try:
            with part.open("ab" if offset else "wb") as handle:
                while True:
                    try:
                        block = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException):
                        block = None  # connection lost: reported below with what arrived
                    if not block:
                        break
                    handle.write(block)
                    fetched += len(block)
                    tracker.advance(len(block))
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise CheckpointError(f"{part}: disk full after {offset + fetched:,} bytes; free space and run "
                                      "again to resume") from None
            raise CheckpointError(f"{part}: cannot write ({error.strerror})") from None
    have = offset + fetched
    if expected is not None and have < expected:
        raise CheckpointError(f"{url}: connection lost after {have:,} of {expected:,} bytes; run the same "
                              f"download again to resume from {part}")
    if total is not None and have > total:
        part.unlink(missing_ok=True)
        raise CheckpointError(f"{url}: received {have:,} bytes, more than the {total:,} announced; removed {part.name}")
    return offset, fetched


def _check_file(path: Path, facts: CheckpointFacts, url: str, complete_note: str) -> tuple[str, str]:
    """Check a file against its facts: returns (its MD5, what was checked, for people).

    Raises:
        CheckpointError: wrong size, wrong hash, or (no hash published) weights that do not load as this model.
    """
    name = facts.file
    size = path.stat().st_size
    if facts.size is not None and size != facts.size:
        raise CheckpointError(f"{name}: {size:,} bytes but the official file has {facts.size:,}")
    md5 = file_md5(path)
    if facts.md5 is not None:
        if md5 != facts.md5:
            raise CheckpointError(f"{name}: MD5 {md5} is not the official file's ({facts.md5})")
        return md5, "size and full MD5 match the official file"
    if facts.md5_prefix is not None:
        if not md5.startswith(facts.md5_prefix):
            raise CheckpointError(f"{name}: MD5 {md5[:6]}… does not match the official file (starts {facts.md5_prefix})")
        return md5, f"size matches the official file; {PREFIX_ONLY_NOTE}: {md5[:6]}…"
    detected = _identify(path)
    if detected != facts.model:
        raise CheckpointError(f"{name}: holds {detected} weights, not {facts.model}")
    return md5, f"{NO_HASH_NOTE} ({complete_note}; {facts.title} weights)"


# ---- verify ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class VerifyReport(Report):
    """What a checkpoint file is.

    Attributes:
        path: the file.
        size: its size in bytes.
        md5: its MD5.
        model: the model its weights belong to (``vit_b``, ``hiera_l`` …).
        official: the catalogue entry whose file name it has, or None for another name.
        checked: what was compared with official facts, for people.
    """

    path: Path
    size: int
    md5: str
    model: str
    official: str | None
    checked: str

    def summary(self) -> str:
        return f"{self.path}: {self.model} weights, {self.size:,} bytes, MD5 {self.md5}"

    def details(self) -> list[str]:
        return [self.checked]


def verify_checkpoint(path: str | os.PathLike, *, hash_cache: Path | None = None) -> VerifyReport:
    """Size, MD5 and model type of a checkpoint file; an official file name is checked against its facts.

    Loads the weights with torch (lazily imported) to tell the model type. A file that passes and
    has an official name is recorded as checked in its folder's ``.verified.json``.

    Raises:
        CheckpointError: missing, unreadable, weights of no known model, or an official name whose size,
            hash or model type is not the official one (one line).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: {'is a folder, not a checkpoint file' if path.is_dir() else 'no such file'}")
    size = path.stat().st_size
    catalogue = {facts.file: facts for facts in checkpoint_catalogue().values()}
    facts = catalogue.get(path.name)
    try:
        if facts is None:
            model = _identify(path)
            md5 = file_md5(path, hash_cache)
            return VerifyReport(path, size, md5, model, None,
                                "not an official file name: size and hash not compared with official facts")
        md5, checked = _check_file(path, facts, facts.url, complete_note=f"{size:,} bytes")
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {str(error).removeprefix(path.name + ': ')}") from None
    except SamisError as error:
        raise CheckpointError(str(error)) from None
    model = facts.model if facts.md5_prefix is None and facts.md5 is None else _identify_matching(path, facts)
    if hash_cache is not None:
        remember_md5(path, md5, hash_cache)
    record_verified(path, md5, checked, model)
    return VerifyReport(path, size, md5, model, facts.file, checked)


def _identify_matching(path: Path, facts: CheckpointFacts) -> str:
    """The model of a file whose hash already matched: its weights must agree with its name."""
    try:
        model = _identify(path)
    except SamisError as error:
        raise CheckpointError(str(error)) from None
    if model != facts.model:
        raise CheckpointError(f"{path}: named like the official {facts.model} file but holds {model} weights")
    return model


def _identify(path: Path) -> str:
    from samis.sam.checkpoints import identify_weights  # torch: only where no hash is published

    return identify_weights(path)
