"""Where samis keeps things on disk.

The workspace (default ``./data``, or ``--workspace DIR``, or ``$SAMIS_WORKSPACE``) holds the dataset
registry, frozen splits, predictions, caches and results. Datasets are registered by path and never
copied; nothing is ever written inside a registered dataset folder.

Layout::

    datasets.toml                                 registered dataset roots
    splits/<dataset>.json                         frozen split membership
    predictions/<dataset>/<method>/<stem>.png     8-bit maps at ground-truth size + manifest.json
    cache/sam/<model>/<dataset>/<stem>.npz        raw SAM masks (see samis.sam)
    results/<dataset>/<method>.parquet            per-image metrics and curves, keyed by content
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from samis.errors import WorkspaceError
from samis.imageio import write_text_atomic
from samis.recovery import recover_interrupted_imports, warn_once

ENVIRONMENT_VARIABLE = "SAMIS_WORKSPACE"
DEFAULT_WORKSPACE = Path("data")

#: the read-only reference folder beside the checkout (../shared); a workspace may never live inside it
SHARED_REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:=-]{0,127}$")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is usable as a dataset or method folder name (see :func:`validate_name`)."""
    return isinstance(name, str) and bool(_NAME_PATTERN.match(name)) and ".." not in name


def validate_name(kind: str, name: str) -> str:
    """Check a dataset or method name is safe as a single folder name.

    Raises:
        WorkspaceError: the name is empty, contains ``/``, ``\\`` or ``..``, or other characters.
    """
    if not isinstance(name, str) or not name:
        raise WorkspaceError(f"{kind} name is empty")
    if "/" in name or "\\" in name or ".." in name or not _NAME_PATTERN.match(name):
        raise WorkspaceError(
            f"{kind} name {name!r} is not allowed: use letters, digits and . _ + - = : "
            "(no '/', no '..', at most 128 characters)"
        )
    return name


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset: an id, the folder it lives in, its layout and loader options."""

    id: str
    path: Path
    layout: str
    options: dict = field(default_factory=dict)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def shown_path(text: str | os.PathLike, quote: bool = True, limit: int = 200) -> str:
    """A path as a message shows it, cut to ``limit`` characters; quoted with escapes (a NUL shows as
    ``\\x00``) unless ``quote`` is False (a resolved path, which holds no such character)."""
    text = str(text)
    cut = text if len(text) <= limit else text[:limit]
    shown = repr(cut) if quote else cut
    return shown if cut == text else shown + "…"


class Workspace:
    """A samis workspace folder. Cheap to create; it makes folders only when something is written."""

    def __init__(self, root: str | os.PathLike):
        try:
            self.root = Path(root).expanduser().resolve()
            exists = self.root.exists()  # a name too long, a NUL character … fail here, not later
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise WorkspaceError(f"workspace {shown_path(root)} is not a usable path ({reason})") from None
        if exists and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} exists and is not a folder")
        # both sides resolved: a link into the reference folder (or a reference folder reached through
        # a link) must not slip past the check
        shared = SHARED_REFERENCE_DIR.resolve()
        if self.root == shared or shared in self.root.parents:
            raise WorkspaceError(f"workspace {self.root} lies inside {SHARED_REFERENCE_DIR}, which is read-only reference data")

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> "Workspace":
        """The workspace named by ``path``, else by ``$SAMIS_WORKSPACE``, else ``./data``."""
        if path:
            return cls(path)
        from_env = os.environ.get(ENVIRONMENT_VARIABLE)
        return cls(from_env if from_env else DEFAULT_WORKSPACE)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # ---- paths -------------------------------------------------------------------------------
    @property
    def datasets_file(self) -> Path:
        return self.root / "datasets.toml"

    def split_file(self, dataset_id: str) -> Path:
        return self.root / "splits" / f"{validate_name('dataset', dataset_id)}.json"

    def predictions_dir(self, dataset_id: str) -> Path:
        return self.root / "predictions" / validate_name("dataset", dataset_id)

    def method_dir(self, dataset_id: str, method: str) -> Path:
        return self.predictions_dir(dataset_id) / validate_name("method", method)

    def results_dir(self, dataset_id: str) -> Path:
        return self.root / "results" / validate_name("dataset", dataset_id)

    def sam_cache_dir(self, model: str, dataset_id: str) -> Path:
        return self.root / "cache" / "sam" / validate_name("model", model) / validate_name("dataset", dataset_id)

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def generated_dir(self) -> Path:
        """Datasets samis generates itself (the demo) live here."""
        return self.root / "generated"

    # ---- dataset registry --------------------------------------------------------------------
    def registered_datasets(self) -> dict[str, DatasetEntry]:
        """All registered datasets, by id, in registration order.

        Raises:
            WorkspaceError: datasets.toml exists but cannot be parsed, or holds values of the wrong type.
        """
        if not self.datasets_file.exists():
            return {}
        try:
            document = tomllib.loads(self.datasets_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise WorkspaceError(f"{self.datasets_file}: not valid TOML ({error})") from None
        tables = document.get("datasets", {})
        if not isinstance(tables, dict):
            raise WorkspaceError(f"{self.datasets_file}: 'datasets' must be a table of [datasets.ID] entries, "
                                 f"not {type(tables).__name__}")
        entries = {}
        for dataset_id, table in tables.items():
            if not isinstance(table, dict) or "path" not in table or "layout" not in table:
                raise WorkspaceError(f"{self.datasets_file}: dataset {dataset_id!r} needs 'path' and 'layout'")
            for key in ("path", "layout"):
                if not isinstance(table[key], str):
                    raise WorkspaceError(f"{self.datasets_file}: dataset {dataset_id!r}: '{key}' must be text, "
                                         f"not {type(table[key]).__name__}")
            if not is_valid_name(dataset_id):
                raise WorkspaceError(f"{self.datasets_file}: dataset id {dataset_id!r} is not allowed "
                                     "(letters, digits and . _ + - = : only)")
            options = {k: v for k, v in table.items() if k not in ("path", "layout")}
            path = Path(table["path"])
            if not path.is_absolute():
                path = (self.root / path).resolve()
            entries[dataset_id] = DatasetEntry(dataset_id, path, str(table["layout"]), options)
        return entries

    def _write_registry(self, entries: dict[str, DatasetEntry]) -> None:
        lines = ["# samis dataset registry: datasets are read in place, never copied", ""]
        for entry in entries.values():
            lines.append(f'[datasets."{entry.id}"]')
            lines.append(f"path = {_toml_value(str(entry.path))}")
            lines.append(f"layout = {_toml_value(entry.layout)}")
            for key, value in sorted(entry.options.items()):
                lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        write_text_atomic(self.datasets_file, "\n".join(lines))

    def register_dataset(self, entry: DatasetEntry, replace: bool = False) -> None:
        """Add (or with ``replace``, update) a dataset in the registry.

        Raises:
            WorkspaceError: the id is taken, or the workspace lies inside the dataset folder.
        """
        validate_name("dataset", entry.id)
        entries = self.registered_datasets()
        if entry.id in entries and not replace and entries[entry.id] != entry:
            raise WorkspaceError(
                f"dataset {entry.id!r} is already registered at {entries[entry.id].path}; "
                "remove it first or choose another id"
            )
        if self.root == entry.path or entry.path in self.root.parents:
            raise WorkspaceError(
                f"workspace {self.root} lies inside dataset folder {entry.path}: samis never writes into a dataset"
            )
        entries[entry.id] = entry
        self._write_registry(entries)

    def unregister_dataset(self, dataset_id: str) -> None:
        entries = self.registered_datasets()
        if dataset_id not in entries:
            raise WorkspaceError(f"dataset {dataset_id!r} is not registered in {self.datasets_file}")
        del entries[dataset_id]
        self._write_registry(entries)

    def dataset_entry(self, dataset_id: str) -> DatasetEntry:
        """The registry entry of one dataset.

        Raises:
            WorkspaceError: no dataset with that id is registered.
        """
        entries = self.registered_datasets()
        if dataset_id not in entries:
            known = ", ".join(entries) or "none"
            hint = "" if entries else " or build the synthetic one with: python -m samis demo"
            raise WorkspaceError(
                f"unknown dataset {dataset_id!r} (registered: {known}); "
                f"add one with: python -m samis datasets add ID PATH{hint}"
            )
        return entries[dataset_id]

    def prediction_methods(self, dataset_id: str) -> list[str]:
        """Methods that have a prediction folder for the dataset, sorted by name.

        Interrupted imports are repaired first (see :func:`samis.recovery.recover_interrupted_imports`).
        Hidden folders are samis's own work folders and are skipped; a folder whose name is not a
        valid method name is skipped with one warning per process, so it blocks nothing.
        """
        folder = self.predictions_dir(dataset_id)
        if not folder.is_dir():
            return []
        recover_interrupted_imports(folder)
        methods = []
        for path in folder.iterdir():
            if not path.is_dir() or path.name.startswith("."):
                continue
            if is_valid_name(path.name):
                methods.append(path.name)
            else:
                warn_once(f"method-name:{path}", f"{path}: ignored, {path.name!r} is not a valid method name "
                          "(letters, digits and . _ + - = : only); rename the folder to use it")
        return sorted(methods)
