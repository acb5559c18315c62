"""A new per-image job written as a task and nothing else: the mean and the maximum of each image.

The tests run it on the runner locally, in a pool, on Ray, killed and resumed, and on a damaged cache:
all of that comes from :mod:`samis.runner` and :mod:`samis.result_cache`, none from this file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samis.imageio import read_gray
from samis.result_cache import FileStore, file_hash
from samis.runner import Task, Unit


def read_image(path: str) -> np.ndarray:
    return read_gray(path)


def statistics_worker(scale: float):
    return lambda image: np.array([image.mean() * scale, image.max() * scale])


def task(scale: float = 1.0, parallel_min: int = 48) -> Task:
    return Task("toy statistics", read_image, statistics_worker, (scale,), batch_size=2, parallel_min=parallel_min)


def units(image_paths: list[Path], scale: float = 1.0) -> list[Unit]:
    """One unit per image, keyed by the image's content and the scale."""
    return [Unit(path.stem, [file_hash(path), scale], str(path)) for path in image_paths]


def store(folder: Path) -> FileStore:
    return FileStore(folder)
