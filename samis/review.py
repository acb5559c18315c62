"""Case review: tags, notes and review sets that colleagues share, kept in the workspace.

The store is one SQLite file, ``<workspace>/review.sqlite``:

- WAL mode with a busy timeout, so several people (dashboard sessions, CLI runs, processes) can write
  at once and readers never wait; where WAL cannot work (a file system without shared memory) the
  journal falls back to ``journal_mode=DELETE``. Every write is one ``BEGIN IMMEDIATE`` transaction:
  a killed process leaves the database with every committed write and nothing half-made.
- on a read-only mount the file is opened with ``mode=ro&immutable=1`` (nothing is written, not even
  the WAL's shared memory); :class:`ReviewStore` with ``read_only=True`` takes no write at all.
- the schema is versioned (``PRAGMA user_version``) and migrated forward on open; a database written
  by a newer samis is refused with one line and left untouched. A file that is not a readable
  database is moved aside (``review.sqlite.damaged-<time>``, see :func:`samis.recovery.move_aside`),
  the store starts empty, and :attr:`ReviewStore.moved_aside` names the file holding the earlier tags.

What is stored:

- **tags** on an image, or on an image × method (``method`` is ``""`` for the image itself): the
  defaults of a failure taxonomy (:data:`DEFAULT_TAGS`) plus any free tag;
- **notes**, append-only: an edit is a new note; nothing is ever changed or deleted;
- **review sets**: named, frozen lists of images with a description and the filter they came from;
- an **audit** table: every tag added or removed, by whom and when, so removing a tag keeps a record.

Authors come from the caller: :func:`default_author` (``$SAMIS_USER``, else the OS user) or a name
typed into the dashboard's sidebar — never from a URL. Tags and notes are plain text; whoever shows
them shows them as text (never markdown or HTML).
"""

from __future__ import annotations

import getpass
import os
import re
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from samis.errors import SamisError
from samis.recovery import move_aside

#: the store's file name in the workspace
REVIEW_FILE = "review.sqlite"
#: the failure taxonomy offered first everywhere (free tags are allowed too)
DEFAULT_TAGS = ("missed defect", "false alarm", "boundary", "merged with background", "tiny defect",
                "low contrast", "gt error")
#: the tag whose images ``--exclude-tag`` usually leaves out of the scores
GT_ERROR_TAG = "gt error"
MAX_NOTE_CHARS = 10_000
MAX_TAG_CHARS = 100
MAX_DESCRIPTION_CHARS = 2_000
USER_VARIABLE = "SAMIS_USER"
BUSY_TIMEOUT_S = 60.0

_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+:=-]{0,79}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

#: test hook: called inside every write transaction, before it commits (a test kills the process here)
_before_commit = None

# Each migration takes the schema from version i to i + 1; never edit one that has shipped, add one.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tags (
        dataset TEXT NOT NULL, image TEXT NOT NULL, method TEXT NOT NULL DEFAULT '',
        tag TEXT NOT NULL, author TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (dataset, image, method, tag));
    CREATE INDEX tags_by_tag ON tags (dataset, tag);
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, image TEXT NOT NULL,
        method TEXT NOT NULL DEFAULT '', text TEXT NOT NULL, author TEXT NOT NULL, created REAL NOT NULL);
    CREATE INDEX notes_by_image ON notes (dataset, image);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL CHECK (action IN ('add', 'remove')),
        dataset TEXT NOT NULL, image TEXT NOT NULL, method TEXT NOT NULL, tag TEXT NOT NULL,
        author TEXT NOT NULL, at REAL NOT NULL);
    CREATE TABLE review_sets (
        dataset TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, filter TEXT NOT NULL,
        author TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (dataset, name));
    CREATE TABLE review_set_images (
        dataset TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, image TEXT NOT NULL,
        PRIMARY KEY (dataset, name, position));
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class ReviewError(SamisError):
    """A tag, note or review set cannot be stored or read (bad input, a newer or unusable database)."""


@dataclass(frozen=True)
class Tag:
    """One tag on an image (``method == ""``) or on an image × method."""

    dataset: str
    image: str
    method: str
    tag: str
    author: str
    created: float


@dataclass(frozen=True)
class Note:
    """One note (append-only) on an image or an image × method."""

    id: int
    dataset: str
    image: str
    method: str
    text: str
    author: str
    created: float


@dataclass(frozen=True)
class ReviewSet:
    """A named, frozen list of images with a description and the filter it was made from."""

    dataset: str
    name: str
    description: str
    filter: str
    author: str
    created: float
    images: tuple[str, ...]


@dataclass(frozen=True)
class AuditEntry:
    """One tag added or removed: who and when."""

    action: str
    dataset: str
    image: str
    method: str
    tag: str
    author: str
    at: float


# ---- input checks ----------------------------------------------------------------------------------
def default_author(environ: dict | None = None) -> str:
    """Who writes, when nobody typed a name: ``$SAMIS_USER``, else the OS user, else ``unknown``."""
    environ = os.environ if environ is None else environ
    name = (environ.get(USER_VARIABLE) or "").strip()
    if name:
        return check_author(name)
    try:
        return check_author(getpass.getuser())
    except (OSError, KeyError, ReviewError):  # no user database entry (a container's bare uid)
        return "unknown"


def check_author(author: str) -> str:
    """An author name, stripped. Raises ReviewError: empty, over 100 characters or control characters."""
    name = str(author or "").strip()
    if not name:
        raise ReviewError("the author is empty: set SAMIS_USER, pass --author NAME or type a name")
    if len(name) > 100 or _CONTROL.search(name):
        raise ReviewError(f"author {name[:40]!r}: at most 100 characters, no control characters")
    return name


def check_tag(tag: str) -> str:
    """A tag, stripped. Raises ReviewError: empty, over 100 characters, or control characters."""
    text = str(tag or "").strip()
    if not text:
        raise ReviewError("the tag is empty: give a tag, e.g. --tag 'gt error'")
    if len(text) > MAX_TAG_CHARS or _CONTROL.search(text):
        raise ReviewError(f"tag {text[:40]!r}…: at most {MAX_TAG_CHARS} characters, no control characters")
    return text


def check_note(text: str) -> str:
    """A note as typed (kept as is). Raises ReviewError: empty or over 10,000 characters."""
    text = str(text or "")
    if not text.strip():
        raise ReviewError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise ReviewError(f"the note has {len(text):,} characters; at most {MAX_NOTE_CHARS:,} are kept "
                          "(split it into several notes)")
    if "\x00" in text:
        raise ReviewError("the note holds a NUL character")
    return text


def check_set_name(name: str) -> str:
    """A review set name. Raises ReviewError: empty, with ``/``, ``\\`` or ``..``, or other characters."""
    text = str(name or "").strip()
    if not text:
        raise ReviewError("the review set name is empty")
    if "/" in text or "\\" in text or ".." in text or not _SET_NAME.match(text):
        raise ReviewError(f"review set name {text[:60]!r} is not allowed: letters, digits, spaces and . _ + - = : "
                          "(no '/', no '..', at most 80 characters)")
    return text


# ---- the store -------------------------------------------------------------------------------------
class ReviewStore:
    """The review database of one workspace. Cheap to create; the file is made by the first write.

    Args:
        root: the workspace folder (a :class:`samis.workspace.Workspace`'s ``root``).
        read_only: take no write (a read-only server); the file is opened read-only.

    Attributes:
        path: the database file.
        moved_aside: where a damaged database was moved by this store (None when none was).
    """

    def __init__(self, root: str | os.PathLike, read_only: bool = False):
        self.path = Path(root) / REVIEW_FILE
        self.read_only = read_only
        self.moved_aside: Path | None = None
        self.journal_mode: str | None = None
        self._ready = False

    # ---- connections ---------------------------------------------------------------------------
    def _read_only_connection(self) -> sqlite3.Connection:
        # immutable=1 only where nobody can write (a read-only mount): SQLite then skips every lock
        # and the WAL's shared memory, which a read-only folder could not hold; elsewhere mode=ro sees
        # colleagues' writes as they commit
        writable = os.access(self.path.parent, os.W_OK)
        flags = "mode=ro" if writable else "mode=ro&immutable=1"
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?{flags}", uri=True, timeout=BUSY_TIMEOUT_S)
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return connection

    def _writable_connection(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # no shared memory here (some network file systems): roll back instead
            mode = connection.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        self.journal_mode = str(mode).lower()
        connection.execute("PRAGMA synchronous = NORMAL" if self.journal_mode == "wal" else "PRAGMA synchronous = FULL")
        return connection

    def _open(self, write: bool) -> sqlite3.Connection | None:
        """A connection with the schema checked (and migrated, for a writer); None: nothing stored yet."""
        if write and self.read_only:
            raise ReviewError("this server is read-only: tags and notes are shown but not taken "
                              "(the operator can allow them with review_on_read_only = true)")
        if not write and not self.path.exists():
            return None
        writer = write or (not self.read_only and os.access(self.path.parent, os.W_OK))
        for attempt in range(2):
            try:
                connection = self._writable_connection() if writer else self._read_only_connection()
                self._check_schema(connection, migrate=writer)
                return connection
            except sqlite3.DatabaseError as error:
                if attempt or not writer or not _is_damage(error):
                    raise ReviewError(f"{self.path}: cannot be read ({error})") from None
                self._move_damaged(str(error))
        raise AssertionError("unreachable")

    def _move_damaged(self, reason: str) -> None:
        aside = move_aside(self.path, reason, then="the earlier tags and notes are in that file; a new store is started")
        for suffix in ("-wal", "-shm"):  # a WAL belongs to the file moved aside, never to the new one
            side = self.path.with_name(self.path.name + suffix)
            if side.exists() and aside is not None:
                os.replace(side, aside.with_name(aside.name + suffix))
        self.moved_aside = aside

    def _check_schema(self, connection: sqlite3.Connection, migrate: bool) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            connection.close()
            raise ReviewError(f"{self.path}: written by a newer samis (review schema {version}, this one reads up to "
                              f"{SCHEMA_VERSION}); upgrade samis — the file is left as it is")
        if version == SCHEMA_VERSION or not migrate:
            if version < SCHEMA_VERSION and not migrate and version > 0:
                raise ReviewError(f"{self.path}: review schema {version} needs migrating, which a read-only store "
                                  "cannot do; open it once with a writable samis")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged file fails here
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            for step in range(version, SCHEMA_VERSION):
                for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue up on the busy timeout, none is lost)."""
        with closing(self._open(write=True)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                if _before_commit is not None:
                    _before_commit()
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def _read(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        connection = self._open(write=False)
        if connection is None:
            return []
        with closing(connection):
            try:
                return connection.execute(sql, parameters).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # an empty file a read-only store could not migrate
                    return []
                raise ReviewError(f"{self.path}: cannot be read ({error})") from None

    # ---- tags ------------------------------------------------------------------------------------
    def add_tag(self, dataset: str, image: str, tag: str, *, method: str = "", author: str) -> bool:
        """Tag an image (or an image × method). Returns False when the same tag was already there.

        Raises:
            ReviewError: an empty or too long tag or author, a read-only store, an unusable database.
        """
        tag, author, now = check_tag(tag), check_author(author), time.time()
        with self._write() as db:
            added = db.execute("INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                               (dataset, image, method or "", tag, author, now)).rowcount == 1
            if added:
                db.execute("INSERT INTO audit (action, dataset, image, method, tag, author, at) "
                           "VALUES ('add', ?, ?, ?, ?, ?, ?)", (dataset, image, method or "", tag, author, now))
        return added

    def remove_tag(self, dataset: str, image: str, tag: str, *, method: str = "", author: str) -> bool:
        """Remove a tag; the audit table keeps who removed it and when. Returns False when it was not there."""
        tag, author, now = check_tag(tag), check_author(author), time.time()
        with self._write() as db:
            removed = db.execute("DELETE FROM tags WHERE dataset = ? AND image = ? AND method = ? AND tag = ?",
                                 (dataset, image, method or "", tag)).rowcount == 1
            if removed:
                db.execute("INSERT INTO audit (action, dataset, image, method, tag, author, at) "
                           "VALUES ('remove', ?, ?, ?, ?, ?, ?)", (dataset, image, method or "", tag, author, now))
        return removed

    def tags(self, dataset: str, *, tag: str | None = None, image: str | None = None) -> list[Tag]:
        """The tags of a dataset (optionally one tag's, or one image's), oldest first."""
        sql = "SELECT dataset, image, method, tag, author, created FROM tags WHERE dataset = ?"
        parameters: tuple = (dataset,)
        if tag is not None:
            sql, parameters = sql + " AND tag = ?", parameters + (tag.strip(),)
        if image is not None:
            sql, parameters = sql + " AND image = ?", parameters + (image,)
        return [Tag(*row) for row in self._read(sql + " ORDER BY created, rowid", parameters)]

    def vocabulary(self, dataset: str | None = None) -> list[str]:
        """The default tags, then every free tag in use (of one dataset, or all), sorted."""
        rows = self._read("SELECT DISTINCT tag FROM tags" + (" WHERE dataset = ?" if dataset else ""),
                          (dataset,) if dataset else ())
        free = sorted({row[0] for row in rows} - set(DEFAULT_TAGS))
        return [*DEFAULT_TAGS, *free]

    def audit(self, dataset: str | None = None) -> list[AuditEntry]:
        """Every tag added or removed (of one dataset, or all), oldest first."""
        rows = self._read("SELECT action, dataset, image, method, tag, author, at FROM audit"
                          + (" WHERE dataset = ?" if dataset else "") + " ORDER BY id", (dataset,) if dataset else ())
        return [AuditEntry(*row) for row in rows]

    # ---- notes -----------------------------------------------------------------------------------
    def add_note(self, dataset: str, image: str, text: str, *, method: str = "", author: str) -> int:
        """Append a note; returns its id. Notes are never edited: an edit is a new note."""
        text, author, now = check_note(text), check_author(author), time.time()
        with self._write() as db:
            cursor = db.execute("INSERT INTO notes (dataset, image, method, text, author, created) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (dataset, image, method or "", text, author, now))
            return int(cursor.lastrowid)

    def notes(self, dataset: str, *, image: str | None = None) -> list[Note]:
        """The notes of a dataset (or of one image), oldest first."""
        sql = "SELECT id, dataset, image, method, text, author, created FROM notes WHERE dataset = ?"
        parameters: tuple = (dataset,)
        if image is not None:
            sql, parameters = sql + " AND image = ?", parameters + (image,)
        return [Note(*row) for row in self._read(sql + " ORDER BY id", parameters)]

    # ---- review sets -----------------------------------------------------------------------------
    def create_set(self, dataset: str, name: str, images: list[str], *, description: str = "",
                   filter_text: str = "", author: str) -> ReviewSet:
        """Freeze a list of images as a named review set.

        Raises:
            ReviewError: a bad name, no images, a description over 2,000 characters, or a set of that name
                already in the dataset (sets are frozen: choose another name).
        """
        name, author = check_set_name(name), check_author(author)
        if not images:
            raise ReviewError(f"review set {name!r} would hold no images: the filter shows none")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise ReviewError(f"the description has {len(description):,} characters; at most {MAX_DESCRIPTION_CHARS:,}")
        now = time.time()
        with self._write() as db:
            try:
                db.execute("INSERT INTO review_sets VALUES (?, ?, ?, ?, ?, ?)",
                           (dataset, name, description, filter_text, author, now))
            except sqlite3.IntegrityError:
                raise ReviewError(f"review set {name!r} already exists in {dataset!r}; sets are frozen, "
                                  "choose another name") from None
            db.executemany("INSERT INTO review_set_images VALUES (?, ?, ?, ?)",
                           [(dataset, name, i, image) for i, image in enumerate(dict.fromkeys(images))])
        return ReviewSet(dataset, name, description, filter_text, author, now, tuple(dict.fromkeys(images)))

    def sets(self, dataset: str) -> list[ReviewSet]:
        """The review sets of a dataset, by name."""
        heads = self._read("SELECT dataset, name, description, filter, author, created FROM review_sets "
                           "WHERE dataset = ? ORDER BY name", (dataset,))
        members: dict[str, list[str]] = {}
        for name, image in self._read("SELECT name, image FROM review_set_images WHERE dataset = ? "
                                      "ORDER BY name, position", (dataset,)):
            members.setdefault(name, []).append(image)
        return [ReviewSet(*head, tuple(members.get(head[1], []))) for head in heads]

    def review_set(self, dataset: str, name: str) -> ReviewSet:
        """One review set. Raises ReviewError: a bad name or no such set."""
        name = check_set_name(name)
        for found in self.sets(dataset):
            if found.name == name:
                return found
        known = ", ".join(s.name for s in self.sets(dataset)) or "none"
        raise ReviewError(f"no review set {name!r} in {dataset!r} (sets: {known})")


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is broken (not locked, not read-only)."""
    text = str(error).lower()
    return any(word in text for word in ("not a database", "malformed", "corrupt", "file is encrypted"))


# ---- what the tags mean for scores -------------------------------------------------------------------
@dataclass(frozen=True)
class Exclusion:
    """Images left out of the scores because of their tags: which, and whose tags they were.

    Attributes:
        tags: the tags asked for.
        images: the image ids left out (tagged on the image itself or on any image × method).
        authors: author -> number of images they tagged (an image tagged by two counts for both).
    """

    tags: tuple[str, ...]
    images: frozenset[str]
    authors: tuple[tuple[str, int], ...]

    def describe(self, left_out: int | None = None) -> str:
        """One line: how many images were left out and by whose tags."""
        count = len(self.images) if left_out is None else left_out
        tags = ", ".join(repr(t) for t in self.tags)
        whose = ", ".join(f"{a}: {n}" for a, n in self.authors) or "nobody"
        return f"left out {count} image{'s' if count != 1 else ''} tagged {tags} (tags by {whose})"


def exclusion(store: ReviewStore, dataset: str, tags: list[str] | tuple[str, ...],
              within: set[str] | None = None) -> Exclusion:
    """The images of ``dataset`` (of ``within``, when given) carrying any of ``tags`` (see :class:`Exclusion`)."""
    tags = tuple(check_tag(t) for t in tags)
    images: set[str] = set()
    by_author: dict[str, set[str]] = {}
    for tag in tags:
        for found in store.tags(dataset, tag=tag):
            if within is not None and found.image not in within:
                continue
            images.add(found.image)
            by_author.setdefault(found.author, set()).add(found.image)
    authors = tuple(sorted(((a, len(s)) for a, s in by_author.items()), key=lambda item: (-item[1], item[0])))
    return Exclusion(tags, frozenset(images), authors)


def exclude_tagged(result, store: ReviewStore, tags: list[str] | tuple[str, ...]):
    """An evaluation result (:class:`samis.evaluation.EvaluationResult`) less the images carrying any of
    ``tags``; its ``left_out`` line says how many were left out and by whose tags. Intervals and tests
    computed from the returned result use the same images as its scores."""
    found = exclusion(store, result.dataset, tags, within=set(result.image_classes))
    return result.without(found.images, found.describe())
