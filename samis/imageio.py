"""Reading and writing images with errors that name the file, and atomic file writes.

Images (:func:`read_gray`, :func:`read_rgb`) are returned as ``uint8``: 16-bit images are scaled
down to 8 bits, palettes are expanded and alpha is composited over black.

Ground-truth masks and saliency maps each have ONE documented rule, here and nowhere else:

- :func:`read_mask` (ground truth → bool, and which branch of the rule read it):

  1. an image with no non-zero pixel is an empty mask (``empty``);
  2. a grey mask with exactly one non-zero value ``k`` (with or without 0) marks the defect where
     the value is ``k``: 0/255, 0/1, 0/65535, 0/k all read the same way (``0/255``, ``0/1`` …);
  3. an 8-bit grey mask with more levels (e.g. JPEG masks, NRSD-MN) is binarised at **> 128**, as
     pysodmetrics does (``8-bit grey > 128``); a 16-bit one at the same threshold scaled to 16 bits,
     **> 128 × 257 = 32896** (``16-bit grey > 32896``);
     either is refused when no pixel lies above the threshold, since then the encoding is unknown;
  4. a coloured RGB mask (channels differ somewhere) marks every non-black pixel as defect
     (``colour, non-black``); refused when it has no black pixel at all (no background colour);
  5. an RGBA / LA mask whose colour is constant and whose alpha varies is read from its alpha
     channel by rules 1–3 (``alpha``); with constant (opaque) alpha the colour is read; with both
     varying it is refused; a palette mask is read as its colours;
  6. anything else (float or 32-bit TIFF, CMYK …) is refused with :class:`MaskReadError` naming the file.

- :func:`read_map` (saliency map → uint8): grey maps as :func:`read_gray` (16-bit scaled to 8
  bits by the type range, floats in [0, 1] × 255); RGB maps by their luminance (ITU-R 601, PIL's
  ``L``); an RGBA / LA map whose colour is constant and whose alpha varies is the alpha channel
  (saliency drawn as transparency over black); with opaque alpha the colour's luminance; with both
  varying it is refused.

Every reader refuses an image of more than :func:`max_image_pixels` pixels (100 megapixels unless
the environment variable ``SAMIS_MAX_IMAGE_PIXELS`` says otherwise) before decoding it, so a
decompression bomb (a 20000 × 20000 PNG of a few hundred KB) costs one line, not the machine's memory.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from samis.errors import DatasetError, SamisError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: the default pixel limit of every reader (override with the environment variable below)
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
MAX_PIXELS_ENV = "SAMIS_MAX_IMAGE_PIXELS"
#: threshold of multi-level 8-bit masks (pysodmetrics' own), and its 16-bit equivalent (x 257)
MASK_THRESHOLD_8BIT = 128
MASK_THRESHOLD_16BIT = 128 * 257


class ImageReadError(SamisError):
    """An image file cannot be decoded."""


class MaskReadError(ImageReadError, DatasetError):
    """A ground-truth mask that the mask rule (:func:`read_mask`) cannot read."""


def max_image_pixels() -> int:
    """The largest image (width x height) any reader decodes: ``SAMIS_MAX_IMAGE_PIXELS`` or 100 M.

    Raises:
        SamisError: the environment variable is not a positive integer.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise SamisError(f"{MAX_PIXELS_ENV}={text!r}: expected a positive number of pixels, e.g. 100000000")
    return value


def _too_large(path: Path, width: int, height: int, limit: int) -> ImageReadError:
    return ImageReadError(f"{path}: image is {width}x{height} = {width * height / 1e6:.0f} megapixels, above the "
                          f"limit of {limit / 1e6:g} megapixels (a decompression bomb?); set "
                          f"{MAX_PIXELS_ENV} to read larger images")


def _open_fully(path: Path) -> Image.Image:
    limit = max_image_pixels()
    # PIL's own guard warns above its limit and refuses at twice it; ours is checked from the
    # header before decoding, so PIL's is moved out of the way (never below ours)
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise _too_large(path, width, height, limit)
                image.load()  # decode now, so a truncated file fails here and not later
                return image.copy()
    except Image.DecompressionBombError:
        raise _too_large(path, *_header_size(path), limit) from None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"{path}: unreadable or truncated image ({error})") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode this image") from None


def _header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone, PIL's bomb guard off (nothing is decoded)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as image:
            return image.size
    finally:
        Image.MAX_IMAGE_PIXELS = saved


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


_GREY_MODES_16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _grey_mask(values: np.ndarray, bits: int, path: Path, where: str = "") -> tuple[np.ndarray, str]:
    """Rules 1-3 of :func:`read_mask` on one grey channel (uint8 or up to 16-bit integers)."""
    top = int(values.max(initial=0))
    if top == 0:
        return np.zeros(values.shape, bool), "empty"
    if bits == 8:
        counts = np.bincount(values.ravel(), minlength=256)
        levels = np.flatnonzero(counts)
    else:
        levels = np.unique(values)
    nonzero = levels[levels > 0]
    if len(nonzero) == 1:
        # one non-zero value: a binary mask, whatever number its writer used for "defect"
        k = int(nonzero[0])
        return values == k, (f"0/{k}" if k in (1, 255, 65535) else f"0/k (k={k})" if bits == 8 else f"16-bit 0/{k}")
    threshold = MASK_THRESHOLD_8BIT if bits == 8 else MASK_THRESHOLD_16BIT
    if top <= threshold:
        raise MaskReadError(
            f"{path}: {where}mask has {len(levels)} grey levels (0..{top}) and none above {threshold}: cannot tell "
            f"defect from background (expected 0/255, 0/1 or a two-valued mask)")
    return values > threshold, f"{bits}-bit grey > {threshold}"


def read_mask(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read a ground-truth mask by the one mask rule of samis (see the module docstring).

    Args:
        path: the mask file.

    Returns:
        (mask, how): a (H, W) bool array, True = defect, and the name of the rule branch that read
        it (``empty``, ``0/255``, ``0/1``, ``0/65535``, ``0/k (k=…)``, ``8-bit grey > 128``,
        ``16-bit grey > 32896``, ``colour, non-black``, ``alpha: …``, ``1-bit``).

    Raises:
        MaskReadError: (a DatasetError and an ImageReadError) the file cannot be decoded or the
            rule cannot decide which pixels are defect.
    """
    path = Path(path)
    try:
        image = _open_fully(path)
    except MaskReadError:
        raise
    except ImageReadError as error:
        raise MaskReadError(str(error)) from None
    mode = image.mode
    if mode == "1":
        return np.asarray(image, dtype=bool), "1-bit"
    if mode == "L":
        return _grey_mask(np.asarray(image, dtype=np.uint8), 8, path)
    if mode in _GREY_MODES_16:
        values = np.asarray(image)
        if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
            raise MaskReadError(f"{path}: 32-bit mask with values outside 0..65535: not a mask encoding samis reads")
        return _grey_mask(values.astype(np.uint16), 16, path)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("LA", "PA"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode not in ("RGB", "RGBA"):
        raise MaskReadError(f"{path}: {mode} image is not a mask encoding samis reads "
                            "(use 8- or 16-bit grey, 0/1, or colour on black)")
    array = np.asarray(image, dtype=np.uint8)
    colour = array[:, :, :3]
    if mode == "RGBA":
        alpha = array[:, :, 3]
        colour_constant = bool((colour == colour[:1, :1]).all())
        alpha_constant = bool((alpha == alpha.flat[0]).all())
        if colour_constant and not alpha_constant:
            mask, how = _grey_mask(alpha, 8, path, "alpha channel of the ")
            return mask, f"alpha: {how}"
        if not alpha_constant:
            raise MaskReadError(f"{path}: RGBA mask whose colour and transparency both vary: cannot tell which "
                                "one marks the defect")
    if (colour[:, :, 0] == colour[:, :, 1]).all() and (colour[:, :, 1] == colour[:, :, 2]).all():
        return _grey_mask(np.ascontiguousarray(colour[:, :, 0]), 8, path)
    defect = colour.any(axis=2)
    if defect.all():
        raise MaskReadError(f"{path}: coloured mask without any black pixel: cannot tell defect from background "
                            "(expected coloured defects on black)")
    return defect, "colour, non-black"


def read_map(path: str | os.PathLike) -> np.ndarray:
    """Read a saliency map as 8-bit grey by the one map channel rule (see the module docstring).

    Raises:
        ImageReadError: the file is missing, not an image, truncated, too large, or an RGBA map
            whose colour and alpha both vary.
    """
    path = Path(path)
    image = _open_fully(path)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return to_uint8(np.asarray(image))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        array = np.asarray(image, dtype=np.uint8)
        colour, alpha = array[:, :, :3], array[:, :, 3]
        colour_constant = bool((colour == colour[:1, :1]).all())
        alpha_constant = bool((alpha == alpha.flat[0]).all())
        if colour_constant and not alpha_constant:
            # saliency drawn as transparency (e.g. over black): compositing would keep only the colour
            return np.ascontiguousarray(alpha)
        if not alpha_constant:
            raise ImageReadError(f"{path}: RGBA map whose colour and transparency both vary: cannot tell which "
                                 "one holds the saliency")
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.uint8)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image, read from its header only (any size: nothing is decoded)."""
    try:
        width, height = _header_size(Path(path))
        return height, width
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
