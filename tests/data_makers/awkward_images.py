"""A corpus of awkward image files, each with what reading it must give.

`make_corpus(folder)` writes the files and returns one `AwkwardCase` per file: either the
pixels (raw and/or display) reading must return, or the words the error's reason must contain.
The images are tiny, except the deliberately extreme sizes, which are cheap to make.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image


@dataclass(frozen=True)
class AwkwardCase:
    name: str
    path: Path
    raw: np.ndarray | None = None  # expected raw pixels (H x W x C)
    display: np.ndarray | None = None  # expected display pixels (H x W x 3 uint8)
    tolerance: int = 0  # for lossy formats
    shape: tuple[int, int] | None = None  # expected (height, width) when pixels are not given
    note: str | None = None  # words one of the notes must contain
    error: str | None = None  # words the ImageReadError reason must contain


def upright() -> np.ndarray:
    """16 x 32 RGB with four flat quadrants, so any flip or turn is visible.

    The quadrant edges fall on JPEG's 8-pixel blocks, so JPEG keeps the colours nearly exact.
    """
    image = np.zeros((16, 32, 3), np.uint8)
    image[:8, :16] = (250, 20, 20)
    image[:8, 16:] = (20, 250, 20)
    image[8:, :16] = (20, 20, 250)
    image[8:, 16:] = (240, 240, 240)
    return image


# How to store an upright image so that a viewer applying EXIF orientation k shows it upright.
_STORE_FOR_ORIENTATION = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: a[:, ::-1].swapaxes(0, 1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: a[::-1].swapaxes(0, 1),
}


def gradient(height: int, width: int, channels: int = 3) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    planes = [(xs * 7 + ys * 3 + c * 50) % 256 for c in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, payload: bytes, declared: int | None = None) -> bytes:
    length = len(payload) if declared is None else declared
    return struct.pack(">I", length) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _ihdr(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG of a huge grey image whose pixel data stops a few bytes in."""
    idat = zlib.compress(bytes(4096))[:16]
    return _ihdr(width, height, 8, 0) + _chunk(b"IDAT", idat, declared=100_000)[:-4]


def png_grey_alpha_16(array: np.ndarray) -> bytes:
    """A 16-bit grey + alpha PNG (Pillow cannot write one), from an H x W x 2 uint16 array."""
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)
    height, width = array.shape[:2]
    return _ihdr(width, height, 16, 4) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


def make_corpus(folder: Path) -> list[AwkwardCase]:
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[AwkwardCase] = []

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    rgb = gradient(12, 20)
    cases.append(AwkwardCase("rgb png", write("rgb.png", png_bytes(rgb)), raw=rgb, display=rgb))
    whole_png, whole_jpeg = png_bytes(gradient(64, 64)), jpeg_bytes(gradient(64, 64))
    cases.append(AwkwardCase("truncated png", write("truncated.png", whole_png[: len(whole_png) // 2]), error="truncated"))
    cases.append(AwkwardCase("truncated jpeg", write("truncated.jpg", whole_jpeg[: len(whole_jpeg) // 2]), error="truncated"))
    cases.append(AwkwardCase("zero bytes", write("empty.png", b""), error="empty"))
    cases.append(AwkwardCase("png named .jpg", write("really_a_png.jpg", png_bytes(rgb)), raw=rgb, note="is a PNG"))
    cases.append(AwkwardCase("text named .png", write("notes.png", b"this is not an image\n" * 10), error="text"))
    cases.append(AwkwardCase("random bytes", write("noise.webp", bytes(range(256)) * 4), error="not an image"))
    folder_path = folder / "folder.png"
    folder_path.mkdir()
    cases.append(AwkwardCase("a folder", folder_path, error="folder"))

    gray16 = (np.arange(30 * 40).reshape(30, 40) * 50).astype(np.uint16)
    tifffile.imwrite(folder / "gray16.tif", gray16)
    cases.append(AwkwardCase("16-bit grey tiff", folder / "gray16.tif", raw=gray16[:, :, None], note="stretched"))
    cv2.imwrite(str(folder / "gray16.png"), gray16)
    cases.append(AwkwardCase("16-bit grey png", folder / "gray16.png", raw=gray16[:, :, None]))
    rgb16 = (gradient(10, 14).astype(np.uint16) * 257 + 3).astype(np.uint16)
    cv2.imwrite(str(folder / "rgb16.png"), rgb16[:, :, ::-1])
    cases.append(AwkwardCase("16-bit rgb png", folder / "rgb16.png", raw=rgb16))

    grey_alpha = np.stack([gray16[:5, :7], np.full((5, 7), 40000, np.uint16)], axis=-1)
    cases.append(AwkwardCase("16-bit grey+alpha png", write("grey_alpha16.png", png_grey_alpha_16(grey_alpha)),
                             raw=grey_alpha))

    floats = np.linspace(-1.5, 3.0, 20 * 25, dtype=np.float32).reshape(20, 25)
    floats[0, 0] = np.nan
    floats[1, 1] = np.inf
    tifffile.imwrite(folder / "float.tiff", floats)
    cases.append(AwkwardCase("float tiff with nan and inf", folder / "float.tiff", raw=floats[:, :, None]))

    pages = [np.full((8, 9), 10 * (i + 1), np.uint8) for i in range(3)]
    with tifffile.TiffWriter(folder / "pages.tif") as writer:
        for page in pages:
            writer.write(page)
    cases.append(AwkwardCase("multi-page tiff", folder / "pages.tif", raw=pages[0][:, :, None], note="page 1 of 3"))
    tifffile.imwrite(folder / "deflate_rgb.tif", rgb, compression="zlib")
    cases.append(AwkwardCase("compressed rgb tiff", folder / "deflate_rgb.tif", raw=rgb, display=rgb))
    cases.append(AwkwardCase("truncated tiff", write("truncated.tif", (folder / "gray16.tif").read_bytes()[:200]), error="truncated"))

    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    buffer = io.BytesIO()
    cyan.save(buffer, "JPEG", quality=95)
    cases.append(AwkwardCase("cmyk jpeg", write("cmyk.jpg", buffer.getvalue()),
                             display=np.tile(np.array([0, 255, 255], np.uint8), (16, 16, 1)), tolerance=8, note="CMYK"))

    for orientation in range(1, 9):
        stored = np.ascontiguousarray(_STORE_FOR_ORIENTATION[orientation](upright()))
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = jpeg_bytes(stored, exif=exif.tobytes(), subsampling=0)
        cases.append(AwkwardCase(f"exif orientation {orientation}", write(f"orientation_{orientation}.jpg", data),
                                 display=upright(), tolerance=24))

    palette_image = Image.fromarray(np.array([[0, 1, 2, 3]] * 5, np.uint8), mode="P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9] + [0] * 756)
    palette_image.save(folder / "palette.png")
    expected = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]]] * 5, np.uint8)
    cases.append(AwkwardCase("palette png", folder / "palette.png", raw=expected, display=expected, note="palette"))

    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = np.linspace(0, 255, 8).astype(np.uint8)[None, :]
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    composited = (rgba[..., :3].astype(np.uint16) * rgba[..., 3:].astype(np.uint16) // 255).astype(np.uint8)
    cases.append(AwkwardCase("rgba png", folder / "rgba.png", raw=rgba, display=composited, note="black"))

    grey_alpha = np.stack([np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, np.full((3, 4), 128, np.uint8)], -1)
    Image.fromarray(grey_alpha, "LA").save(folder / "grey_alpha.png")
    on_black = (grey_alpha[:, :, :1].astype(np.uint16) * 128 // 255).astype(np.uint8)  # alpha 128 over black
    cases.append(AwkwardCase("grey+alpha png", folder / "grey_alpha.png", raw=grey_alpha,
                             display=np.repeat(on_black, 3, axis=2)))
    Image.fromarray(rgb).save(folder / "transparent_colour.png", transparency=(int(rgb[0, 0, 0]), int(rgb[0, 0, 1]), int(rgb[0, 0, 2])))
    cases.append(AwkwardCase("rgb png with a transparent colour", folder / "transparent_colour.png", raw=rgb, display=rgb))

    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(grey, "L").save(folder / "grey.bmp")
    cases.append(AwkwardCase("grey bmp", folder / "grey.bmp", raw=grey[:, :, None], display=np.repeat(grey[:, :, None], 3, 2)))
    Image.fromarray(rgb).save(folder / "rgb.bmp")
    cases.append(AwkwardCase("rgb bmp", folder / "rgb.bmp", raw=rgb, display=rgb))
    Image.fromarray(rgb).save(folder / "lossless.webp", lossless=True)
    cases.append(AwkwardCase("lossless webp", folder / "lossless.webp", raw=rgb, display=rgb))

    dot = np.array([[[1, 2, 3]]], np.uint8)
    cases.append(AwkwardCase("1 x 1", write("one_pixel.png", png_bytes(dot)), raw=dot, display=dot))
    bilevel = Image.fromarray(np.array([[0, 255, 0]] * 2, np.uint8)).convert("1")
    bilevel.save(folder / "bilevel.png")
    cases.append(AwkwardCase("1-bit png", folder / "bilevel.png", raw=np.array([[[0], [255], [0]]] * 2, np.uint8)))
    wide = np.tile(np.arange(40000, dtype=np.uint32) % 251, (10, 1)).astype(np.uint8)
    cases.append(AwkwardCase("40000 x 10", write("wide.png", png_bytes(wide)), raw=wide[:, :, None]))
    cases.append(AwkwardCase("non-ascii name", write("ünïcødé_細胞 ✓.png", png_bytes(rgb)), raw=rgb))
    tifffile.imwrite(folder / "éprouvette.tif", gray16)
    cases.append(AwkwardCase("non-ascii tiff name", folder / "éprouvette.tif", raw=gray16[:, :, None]))
    cases.append(AwkwardCase("16k x 16k header, no data", write("huge_16k.png", png_header_only(16384, 16384)),
                             error="truncated"))
    cases.append(AwkwardCase("40k x 40k", write("too_big.png", png_header_only(40000, 40000)), error="more than"))
    return cases
