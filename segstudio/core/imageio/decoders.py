"""The decoders behind read_image and probe_image, and the plain reasons they fail with.

Pillow reads every header and decodes the awkward layouts, tifffile decodes TIFF (any depth,
float, planar, multi-page), and OpenCV decodes 16-bit PNG (Pillow cuts 16-bit colour to 8 bits)
and the common 8-bit layouts, faster (see opencv_decode). The content decides the decoder,
never the file name.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import tiff_direct
from segstudio.core.imageio.display import cmyk_to_rgb
from segstudio.core.imageio.opencv_decode import decode_8bit, decode_png16

MAX_PIXELS = 2**30
"""Largest image read (about 32k x 32k): larger ones are refused before decoding."""

# Pillow refuses images over ~179 M pixels as "decompression bombs"; our own limit applies instead.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_PIL_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "WEBP", "TIFF", "GIF", "PPM")
_EXTENSION_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
    ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
}
_ORIENTATION_TAG = 0x0112
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # by PNG colour type (palette, 3: RGB, RGBA with a tRNS chunk)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    channels: int
    dtype: str
    format: str
    pages: int


# --------------------------------------------------------------------------- headers
def probe_tiff(path: Path) -> tuple[ImageInfo, int]:
    """Header facts of a TIFF's first page, and its orientation."""
    with tifffile.TiffFile(path) as tif:
        page = _first_page(path, tif)
        height, width, channels = _tiff_geometry(page)
        dtype = "uint8" if page.dtype == np.bool_ else str(page.dtype)  # read_image gives 1-bit pages as 0/255
        return ImageInfo(width, height, channels, dtype, "TIFF", len(tif.pages)), _tiff_orientation(page)


def probe_pil(path: Path) -> tuple[ImageInfo, int]:
    """Header facts of any other image (channels and dtype as read_image will give them)."""
    with open_pil(path) as image:
        channels, dtype = _pil_layout(image, path)
        pages = getattr(image, "n_frames", 1)
        info = ImageInfo(image.width, image.height, channels, dtype, _format_name(image), pages)
        return info, _pil_orientation(image)


# --------------------------------------------------------------------------- pixels
def read_pil(path: Path, notes: list[str]) -> tuple[np.ndarray, int, bool | None]:
    """(pixels, orientation, alpha): Pillow's modes say alpha by the channel count (LA, RGBA)."""
    with open_pil(path) as image:
        check_size(path, image.width, image.height)
        _note_format(path, _format_name(image), notes)
        orientation = _pil_orientation(image)
        if getattr(image, "n_frames", 1) > 1:
            notes.append(f"{image.n_frames} frames: only the first is used")
        png_header = _png_header(path) if image.format == "PNG" else bytes(13)
        if png_header[8] == 16:
            return decode_png16(path, png_header[9]), orientation, None
        array = decode_8bit(path, image, png_header[8])
        if array is not None:
            return array, orientation, None
        image.load()
        return _pil_to_array(image, notes), orientation, None


def read_tiff(path: Path, notes: list[str]) -> tuple[np.ndarray, int, bool | None]:
    """(pixels, orientation, alpha): whether a 2- or 4-channel page's last channel is alpha."""
    with tifffile.TiffFile(path) as tif:
        page = _first_page(path, tif)
        height, width, _ = _tiff_geometry(page)
        check_size(path, width, height)
        _note_format(path, "TIFF", notes)
        if len(tif.pages) > 1:
            notes.append(f"multi-page TIFF: showing page 1 of {len(tif.pages)}")
        try:
            array = tiff_direct.read(path, tif, page)
            if array is None:
                array = page.asarray()
        except (ValueError, NotImplementedError) as exc:
            if "imagecodecs" not in str(exc) and not isinstance(exc, NotImplementedError):
                raise
            # A compression imagecodecs has no codec for: Pillow may have one (at 8 bits per colour channel).
            notes.append(f"decoded with Pillow ({exc})")
            with open_pil(path) as image:
                image.load()
                array = _pil_to_array(image, notes)
                if array.dtype != page.dtype:
                    notes.append(f"Pillow gave {array.dtype} values where the file holds {page.dtype}")
                return array, _pil_orientation(image), None
        if "S" in page.axes and page.axes.index("S") < page.axes.index("Y"):
            array = np.moveaxis(array, page.axes.index("S"), -1)
        array = array.reshape(height, width, -1)
        if page.photometric == tifffile.PHOTOMETRIC.SEPARATED and array.dtype == np.uint8 and array.shape[2] >= 4:
            array = cmyk_to_rgb(array[:, :, :4])
            notes.append("CMYK converted to RGB")
        elif page.photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            array = (~array if array.dtype == np.bool_ else
                     np.iinfo(array.dtype).max - array if array.dtype.kind == "u" else -array)
        if array.dtype == np.bool_:  # 1-bit pages as Pillow gives them (mode "1" as "L"): 0 and 255
            array = array.view(np.uint8) * np.uint8(255)
        return array, _tiff_orientation(page), _tiff_alpha(page)


def _pil_to_array(image: Image.Image, notes: list[str]) -> np.ndarray:
    mode = image.mode
    if mode in ("P", "PA"):
        has_alpha = "transparency" in image.info or mode == "PA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette colours expanded to RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("La", "RGBa"):
        image = image.convert(mode.upper())
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
        notes.append(f"{mode} converted to RGB")
    return np.array(image)  # a writable copy (np.asarray would be a read-only view of Pillow's bytes)


# --------------------------------------------------------------------------- checks and helpers
def check_file(path: str | Path) -> Path:
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


def check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"the image has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(path, f"{width} x {height} pixels is more than the {MAX_PIXELS:,} pixels SegStudio reads")


def open_pil(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        # Sizes are checked against MAX_PIXELS by the callers; Pillow's own warning is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path, formats=_PIL_FORMATS)


def is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in TIFF_MAGICS


def _png_header(path: Path) -> bytes:
    """The 13 bytes of a PNG's IHDR (width, height, bit depth, colour type, ...), or zeros."""
    with open(path, "rb") as handle:
        start = handle.read(29)
    return start[16:29] if len(start) == 29 and start[12:16] == b"IHDR" else bytes(13)


def _format_name(image: Image.Image) -> str:
    return {"MPO": "JPEG", "DIB": "BMP"}.get(image.format or "", image.format or "unknown")


def _note_format(path: Path, actual: str, notes: list[str]) -> None:
    expected = _EXTENSION_FORMATS.get(path.suffix.lower())
    if expected is not None and expected != actual:
        notes.append(f"the file is a {actual} image although its name ends in {path.suffix}")


def _pil_layout(image: Image.Image, path: Path) -> tuple[int, str]:
    """Channels and dtype `read_image` will return for this Pillow image."""
    header = _png_header(path) if image.format == "PNG" else bytes(13)
    if header[8] == 16:
        return PNG_CHANNELS.get(header[9], 1), "uint16"
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
    page = tif.pages.first
    if page.dtype is not None and np.dtype(page.dtype).kind == "c":
        raise ImageReadError(path, f"its pixels are complex numbers ({page.dtype}), which have no picture or class; "
                                   "save the magnitude (or the real part) as an image and add that")
    return page


def _tiff_alpha(page) -> bool:
    """Whether the page's extra sample is transparency: the TIFF says so in ExtraSamples (1
    associated, 2 unassociated alpha); an unspecified extra sample is just another channel (the
    second channel of a fluorescence image is not a mask over the first)."""
    return any(int(kind) in (1, 2) for kind in (page.extrasamples or ()))


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


def reason(exc: BaseException, path: Path) -> str:
    """A plain sentence for why decoding failed."""
    text = str(exc)
    if isinstance(exc, UnidentifiedImageError):
        if _looks_like_text(path):
            return "not an image: the file holds text"
        return "not an image, or a kind of image SegStudio cannot read"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode it"
    if isinstance(exc, Image.DecompressionBombError):
        return "the image is too large to read"
    truncated = ("truncated", "unexpected end", "failed to read")
    if isinstance(exc, (EOFError, struct.error)) or any(words in text.lower() for words in truncated):
        return "the file is truncated (the image data ends early)"
    if "data stream" in text.lower():  # Pillow's words when the compressed pixels do not decode
        return ("the image data is damaged: it does not decode to the picture its header describes "
                f"({text})")
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
