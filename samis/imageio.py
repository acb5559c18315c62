"""Reading and writing images with errors that name the file, and atomic file writes.

Every reader returns ``uint8`` arrays: 16-bit images are scaled down (>> 8), palettes and alpha
channels are flattened, so the rest of samis only ever sees 8-bit grayscale or RGB.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from samis.errors import SamisError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageReadError(SamisError):
    """An image file cannot be decoded."""


def _open_fully(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here and not later
            return image.copy()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"{path}: unreadable or truncated image ({error})") from None


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Any image array as uint8: bool → 0/255, 16-bit → top 8 bits of the range, floats in [0, 1] → ×255."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        # 16-bit (and 32-bit integer) images: keep the top 8 bits of the used range
        top = 65535 if array.max(initial=0) > 255 else 255
        return (array.astype(np.float64) * (255.0 / top)).round().clip(0, 255).astype(np.uint8)
    array = np.nan_to_num(array.astype(np.float64))
    if array.max(initial=0) <= 1.0:
        array = array * 255.0
    return array.round().clip(0, 255).astype(np.uint8)


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """Read an image as 8-bit grayscale (H, W).

    Raises:
        ImageReadError: the file is missing, not an image, or truncated.
    """
    image = _open_fully(Path(path))
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return to_uint8(np.asarray(image))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image as 8-bit RGB (H, W, 3); grayscale, 16-bit and RGBA inputs are converted.

    Raises:
        ImageReadError: the file is missing, not an image, or truncated.
    """
    image = _open_fully(Path(path))
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = to_uint8(np.asarray(image))
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image, read from its header only."""
    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except (OSError, UnidentifiedImageError) as error:
        raise ImageReadError(f"{path}: cannot read image header ({error})") from None


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an 8-bit grayscale or RGB array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_default_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a temp file (mkstemp: 0600) or folder (mkdtemp: 0700) the mode a plain create would give.

    Without this, a dashboard served by another user could not read what the CLI wrote.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~_current_umask())


def naming(error: OSError, path: str | os.PathLike) -> OSError:
    """The same kind of OSError (same errno and message) but naming ``path``.

    Atomic writes fail on their hidden temp file (``.HC.npz.zsyjhpaa.tmp``); people should read the
    name of the file they know.
    """
    return type(error)(error.errno, error.strerror or str(error), str(path))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    Raises:
        OSError: the folder cannot be made or written (full, read-only …); it names ``path``, never
            the temp file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise naming(error, path) from None
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
        apply_default_mode(temp_name)
        os.replace(temp_name, path)
    except BaseException as error:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):
            raise naming(error, path) from None
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Atomic write of a UTF-8 text file."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_png_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomic write of an 8-bit array as PNG."""
    write_bytes_atomic(path, encode_png(array))
