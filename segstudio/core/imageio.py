"""Reading images from disk into arrays, whatever their bit depth, colour model or orientation.

`read_image` gives two arrays: `raw`, the pixel values as stored (16-bit, float, alpha kept) for
a model's own normalisation, and `display`, an H x W x 3 uint8 RGB picture for the screen and for
models trained on ordinary photos. EXIF orientation is applied to both. Qt's reader is never used
(it refuses images over 256 MB); Pillow decodes most formats, tifffile decodes TIFF, and OpenCV
decodes 16-bit PNG (Pillow would cut 16-bit colour to 8 bits). Anything unreadable raises
`ImageReadError` with a reason written for a person.
"""

from __future__ import annotations

import math
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from segstudio.core.errors import ImageReadError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

MAX_PIXELS = 2**30
"""Largest image read (about 32k x 32k): larger ones are refused before decoding."""

# Pillow refuses images over ~179 M pixels as "decompression bombs"; our own limit applies instead.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_PIL_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "WEBP", "TIFF", "GIF", "PPM")
_EXTENSION_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
    ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
}
_DISPLAY_PERCENTILES = (0.5, 99.5)
_SAMPLE_PIXELS = 2_000_000  # percentiles are estimated on about this many pixels
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    channels: int
    dtype: str
    format: str
    pages: int


@dataclass
class LoadedImage:
    path: Path
    display: np.ndarray  # H x W x 3 uint8 RGB
    raw: np.ndarray  # H x W x C, the stored values and dtype
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.display.shape[0]

    @property
    def width(self) -> int:
        return self.display.shape[1]


# --------------------------------------------------------------------------- public API
def probe_image(path: str | Path) -> ImageInfo:
    """Size, channels and format from the header only; the pixels are not decoded."""
    path = _check_file(path)
    try:
        if _is_tiff(path):
            with tifffile.TiffFile(path) as tif:
                page = _first_page(path, tif)
                height, width, channels = _tiff_geometry(page)
                orientation = _tiff_orientation(page)
                info = ImageInfo(width, height, channels, str(page.dtype), "TIFF", len(tif.pages))
        else:
            with _open_pil(path) as image:
                orientation = _pil_orientation(image)
                channels, dtype = _pil_layout(image, path)
                pages = getattr(image, "n_frames", 1)
                info = ImageInfo(image.width, image.height, channels, dtype, _format_name(image), pages)
    except ImageReadError:
        raise
    except Exception as exc:  # every decoder failure becomes the same typed, explained error
        raise ImageReadError(path, _reason(exc, path)) from exc
    _check_size(path, info.width, info.height)
    if orientation in (5, 6, 7, 8):  # read_image turns these by 90 degrees
        info = ImageInfo(info.height, info.width, info.channels, info.dtype, info.format, info.pages)
    return info


def read_image(path: str | Path) -> LoadedImage:
    """Decode the first page of an image; see the module docstring for what comes back."""
    path = _check_file(path)
    notes: list[str] = []
    try:
        if _is_tiff(path):
            raw, orientation = _read_tiff(path, notes)
        else:
            raw, orientation = _read_pil(path, notes)
    except ImageReadError:
        raise
    except MemoryError as exc:
        raise ImageReadError(path, "not enough memory to decode it") from exc
    except Exception as exc:
        raise ImageReadError(path, _reason(exc, path)) from exc
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.size == 0:
        raise ImageReadError(path, "the image has no pixels")
    raw = np.ascontiguousarray(apply_orientation(raw, orientation))
    if orientation not in (1, None):
        notes.append(f"turned upright from EXIF orientation {orientation}")
    return LoadedImage(path, to_display(raw, notes), raw, notes)


def apply_orientation(array: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn an array upright for an EXIF/TIFF orientation value (1-8), as viewers do."""
    flipped = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a[::-1].swapaxes(0, 1),  # 90 degrees clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: a[:, ::-1].swapaxes(0, 1),  # 90 degrees counter-clockwise
    }.get(orientation)
    return array if flipped is None else flipped(array)


def to_display(raw: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """H x W x 3 uint8 RGB for the screen: alpha composited on black, other depths scaled.

    16-bit, float and other integer images are stretched between their 0.5th and 99.5th
    percentiles, so a dim microscopy image is visible and a few hot pixels do not wash it out.
    """
    notes = [] if notes is None else notes
    channels = raw.shape[2]
    colour = raw[:, :, :3] if channels >= 3 else raw[:, :, :1]
    alpha = raw[:, :, 3] if channels == 4 else (raw[:, :, 1] if channels == 2 else None)
    if channels > 4:
        notes.append(f"{channels} channels: the first three are shown as red, green and blue")
    if raw.dtype == np.uint8:
        display = colour
    elif raw.dtype == np.bool_:
        display = colour.astype(np.uint8) * 255
    else:
        display = _stretch(colour, notes)
        if alpha is not None:
            alpha = _stretch(alpha[:, :, None], [])[:, :, 0]
    if alpha is not None:
        display = (display.astype(np.uint16) * alpha[:, :, None].astype(np.uint16) // 255).astype(np.uint8)
        notes.append("transparent parts are shown on black")
    if display.shape[2] == 1:
        display = np.repeat(display, 3, axis=2)
    return np.ascontiguousarray(display)


# --------------------------------------------------------------------------- decoders
def _read_pil(path: Path, notes: list[str]) -> tuple[np.ndarray, int]:
    with _open_pil(path) as image:
        _check_size(path, image.width, image.height)
        _note_format(path, _format_name(image), notes)
        orientation = _pil_orientation(image)
        if getattr(image, "n_frames", 1) > 1:
            notes.append(f"{image.n_frames} frames: only the first is used")
        if image.format == "PNG" and _png_bit_depth(path) == 16:
            return _read_png16(path), orientation
        image.load()
        return _pil_to_array(image, notes), orientation


def _pil_to_array(image: Image.Image, notes: list[str]) -> np.ndarray:
    mode = image.mode
    if mode == "P" or mode == "PA":
        has_alpha = "transparency" in image.info or mode == "PA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette colours expanded to RGB")
    elif mode == "CMYK":
        image = image.convert("RGB")
        notes.append("CMYK converted to RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("La", "RGBa"):
        image = image.convert(mode.upper())
    elif mode in ("YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
        notes.append(f"{mode} converted to RGB")
    return np.array(image)  # a writable copy (np.asarray would be a read-only view of Pillow's bytes)


def _read_png16(path: Path) -> np.ndarray:
    """16-bit PNG with OpenCV, which keeps all 16 bits of colour (returned as RGB[A])."""
    array = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("damaged PNG data")
    if _png_colour_type(path) == 4 and array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, [0, 3]])  # OpenCV widens grey + alpha to BGRA
    if array.ndim == 3 and array.shape[2] >= 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return array


def _read_tiff(path: Path, notes: list[str]) -> tuple[np.ndarray, int]:
    with tifffile.TiffFile(path) as tif:
        page = _first_page(path, tif)
        height, width, _ = _tiff_geometry(page)
        _check_size(path, width, height)
        _note_format(path, "TIFF", notes)
        if len(tif.pages) > 1:
            notes.append(f"multi-page TIFF: showing page 1 of {len(tif.pages)}")
        try:
            array = page.asarray()
        except (ValueError, NotImplementedError) as exc:
            if "imagecodecs" not in str(exc) and not isinstance(exc, NotImplementedError):
                raise
            # A compression tifffile has no codec for here (e.g. JPEG-in-TIFF): Pillow may have one.
            notes.append(f"decoded with Pillow ({exc})")
            return _read_pil_tiff(path, notes)
        if "S" in page.axes and page.axes.index("S") < page.axes.index("Y"):
            array = np.moveaxis(array, page.axes.index("S"), -1)
        array = array.reshape(height, width, -1)
        if page.photometric == tifffile.PHOTOMETRIC.SEPARATED and array.dtype == np.uint8 and array.shape[2] >= 4:
            array = _cmyk_to_rgb(array[:, :, :4])
            notes.append("CMYK converted to RGB")
        elif page.photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            array = np.iinfo(array.dtype).max - array if array.dtype.kind == "u" else -array
        return array, _tiff_orientation(page)


def _read_pil_tiff(path: Path, notes: list[str]) -> tuple[np.ndarray, int]:
    with _open_pil(path) as image:
        image.load()
        return _pil_to_array(image, notes), _pil_orientation(image)


def _cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    ink = cmyk.astype(np.uint16)
    white = 255 - ink[:, :, 3:4]
    return ((255 - ink[:, :, :3]) * white // 255).astype(np.uint8)


def _stretch(values: np.ndarray, notes: list[str]) -> np.ndarray:
    """Scale to uint8 between robust percentiles, in row blocks to keep temporaries small."""
    step = max(1, math.isqrt(values.shape[0] * values.shape[1] // _SAMPLE_PIXELS))
    sample = values[::step, ::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        notes.append("no finite values: shown black")
        return np.zeros(values.shape, np.uint8)
    low, high = np.percentile(sample, _DISPLAY_PERCENTILES)
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    scale = 255.0 / (high - low) if high > low else 0.0
    notes.append(f"{values.dtype} values {low:.6g} to {high:.6g} stretched to 0-255 for display")
    out = np.empty(values.shape, np.uint8)
    for y in range(0, values.shape[0], 1024):
        block = (values[y : y + 1024].astype(np.float32) - np.float32(low)) * np.float32(scale)
        np.nan_to_num(block, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        out[y : y + 1024] = np.clip(block, 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- checks and helpers
def _check_file(path: str | Path) -> Path:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(path, "the file does not exist") from None
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from None
    if path.is_dir():
        raise ImageReadError(path, "it is a folder, not an image file")
    if size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    return path


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"the image has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(path, f"{width} x {height} pixels is more than the {MAX_PIXELS:,} pixels SegStudio reads")


def _open_pil(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        # Sizes are checked against MAX_PIXELS by the callers; Pillow's own warning is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path, formats=_PIL_FORMATS)


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _png_header(path: Path) -> bytes:
    """The 13 bytes of a PNG's IHDR chunk (width, height, bit depth, colour type...), or b""."""
    with open(path, "rb") as handle:
        start = handle.read(29)
    return start[16:29] if len(start) == 29 and start[12:16] == b"IHDR" else b""


def _png_bit_depth(path: Path) -> int:
    header = _png_header(path)
    return header[8] if header else 8


def _png_colour_type(path: Path) -> int:
    header = _png_header(path)
    return header[9] if header else -1


def _format_name(image: Image.Image) -> str:
    return {"MPO": "JPEG", "DIB": "BMP"}.get(image.format or "", image.format or "unknown")


def _note_format(path: Path, actual: str, notes: list[str]) -> None:
    expected = _EXTENSION_FORMATS.get(path.suffix.lower())
    if expected is not None and expected != actual:
        notes.append(f"the file is a {actual} image although its name ends in {path.suffix}")


def _pil_layout(image: Image.Image, path: Path) -> tuple[int, str]:
    """Channels and dtype `read_image` will return for this Pillow image."""
    if image.format == "PNG" and _png_bit_depth(path) == 16:
        return {0: 1, 2: 3, 4: 2, 6: 4}.get(_png_colour_type(path), 1), "uint16"
    mode = image.mode
    if mode in ("P", "PA"):
        return (4 if "transparency" in image.info or mode == "PA" else 3), "uint8"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return 3, "uint8"
    dtypes = {"I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I": "int32", "F": "float32"}
    return len(image.getbands()), dtypes.get(mode, "uint8")


def _first_page(path: Path, tif: tifffile.TiffFile):
    if len(tif.pages) == 0:
        raise ImageReadError(path, "damaged TIFF file (it holds no image)")
    return tif.pages.first


def _pil_orientation(image: Image.Image) -> int:
    """EXIF orientation without decoding pixels (Pillow's PNG getexif would decode them)."""
    if image.format == "PNG":
        exif = Image.Exif()
        if "exif" in image.info:
            exif.load(image.info["exif"])
    else:
        exif = image.getexif()
    return int(exif.get(_ORIENTATION_TAG, 1))


def _tiff_geometry(page) -> tuple[int, int, int]:
    shape = dict(zip(page.axes, page.shape))
    return shape.get("Y", 0), shape.get("X", 0), shape.get("S", 1)


def _tiff_orientation(page) -> int:
    tag = page.tags.get("Orientation")
    return int(tag.value) if tag is not None else 1


def _reason(exc: BaseException, path: Path) -> str:
    """A plain sentence for why decoding failed."""
    text = str(exc)
    if isinstance(exc, UnidentifiedImageError):
        if _looks_like_text(path):
            return "not an image: the file holds text"
        return "not an image, or a kind of image SegStudio cannot read"
    if isinstance(exc, Image.DecompressionBombError):
        return "the image is too large to read"
    truncated = ("truncated", "unexpected end", "failed to read")
    if isinstance(exc, (EOFError, struct.error)) or any(words in text.lower() for words in truncated):
        return "the file is truncated (the image data ends early)"
    if isinstance(exc, tifffile.TiffFileError):
        return f"damaged TIFF file ({text})"
    return f"damaged or unsupported image data ({type(exc).__name__}: {text})"


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
