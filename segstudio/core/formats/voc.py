"""PASCAL VOC segmentation: JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/Segmentation/.

Masks are palette PNGs with the VOC colour map; 255 (drawn in VOC's cream border colour) is
ignore. labelmap.txt (the file datumaro and CVAT read) names the classes; a class listed without
a colour has the VOC colour of its index (as datumaro writes and reads it); without labelmap.txt
the importer assumes the 21 standard VOC classes. Masks may be palette PNGs (indices) or colour
PNGs (datumaro writes these), read through the colours. Images: JPEG originals are copied (or linked)
unchanged; other originals are re-encoded as JPEG (quality 95) so that readers which assume
`<id>.jpg` (torchvision's VOCSegmentation) work, unless `lossless_images` is set, in which case
they keep their own lossless format and suffix. The dataset card says which happened.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, IndexMaskReader, find_image, place_image, write_bytes, write_png, write_text,
)
from segstudio.core.formats.safety import dataset_files, dataset_text

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
IGNORE_COLOR = (224, 224, 192)
IGNORED = "ignored"  # the label map's name for value 255
SETS_DIR = Path("ImageSets") / "Segmentation"


def voc_colormap(count: int = 256) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (bit-interleaved class index); 255 is the ignore colour."""
    colors = []
    for index in range(count):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colors.append((r, g, b))
    if count > 255:
        colors[255] = IGNORE_COLOR
    return colors


def _palette() -> list[int]:
    return [channel for color in voc_colormap(256) for channel in color]


class VocWriter:
    def __init__(self, context: ExportContext):
        if len(context.classes) > 254:
            raise FormatError("PASCAL VOC palette masks hold at most 254 classes (255 is ignore)")
        self.context = context
        self.sets: dict[str, list[str]] = defaultdict(list)
        self.reencoded = 0
        self.kept = 0
        self.palette = _palette()

    def add(self, sample: ExportSample) -> None:
        root = self.context.root
        suffix = sample.image_path.suffix.lower()
        if suffix in (".jpg", ".jpeg") or self.context.lossless_images:
            target = root / "JPEGImages" / f"{sample.name}{'.jpg' if suffix == '.jpeg' else suffix}"
            place_image(sample.image_path, target, self.context.link_images)
            self.kept += suffix not in (".jpg", ".jpeg")
        else:
            write_bytes(root / "JPEGImages" / f"{sample.name}.jpg", _jpeg_bytes(sample.image_path))
            self.reencoded += 1
        label = sample.label.astype(np.uint8)
        write_png(root / "SegmentationClass" / f"{sample.name}.png", label, palette=self.palette)
        self.sets[sample.split].append(sample.name)

    def finish(self) -> list[str]:
        root = self.context.root
        sets = dict(self.sets)
        sets["trainval"] = sets.get("train", []) + sets.get("val", [])
        for name in ("train", "val", "trainval", "test"):
            lines = "".join(f"{item}\n" for item in sets.get(name, []))
            write_text(root / SETS_DIR / f"{name}.txt", lines)
        colors = voc_colormap(len(self.context.classes))
        lines = ["# label:color_rgb:parts:actions"]
        lines += [f"{c.name}:{r},{g},{b}::" for c, (r, g, b) in zip(self.context.classes, colors)]
        lines.append(f"{IGNORED}:{','.join(map(str, IGNORE_COLOR))}::")  # as in datumaro's VOC label map
        write_text(root / "labelmap.txt", "\n".join(lines) + "\n")
        notes = ["Masks: SegmentationClass/*.png, palette PNGs with the VOC colour map; 255 = ignore."]
        if self.reencoded:
            notes.append(f"Images: {self.reencoded} non-JPEG originals re-encoded as JPEG (quality 95) "
                         "in JPEGImages/; use the lossless option to keep them unchanged.")
        if self.kept:
            notes.append(f"Images: {self.kept} lossless originals kept in their own format in JPEGImages/ "
                         "(readers that assume .jpg need their suffix).")
        return notes


def _jpeg_bytes(path: Path) -> bytes:
    import io

    from segstudio.core.imageio import read_image
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(read_image(path).display).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


class VocReader(IndexMaskReader):
    def __init__(self, root: Path):
        self.root = root
        if not (root / "SegmentationClass").is_dir():
            raise FormatError(f"{root} is not a PASCAL VOC dataset: expected SegmentationClass/ (palette PNGs) "
                              "and JPEGImages/; it has no SegmentationClass/ folder")
        labelmap = _read_labelmap(root, root / "labelmap.txt")
        self.names = [name for name, _ in labelmap] if labelmap else list(VOC_CLASSES)
        self.ignore = 255
        standard = voc_colormap(max(len(self.names), 1))  # datumaro writes `name:::` for these
        colors = [color or standard[index] for index, (_, color) in enumerate(labelmap)] if labelmap else standard
        self.colors = {color: index for index, color in enumerate(colors)}
        self.colors[IGNORE_COLOR] = 255
        self.splits = _read_sets(root, root / SETS_DIR)
        self.masks = dataset_files(root, root / "SegmentationClass", "*.png", recursive=False)
        if not self.masks:
            raise FormatError(f"{root} is not a PASCAL VOC dataset SegStudio can read: expected "
                              "SegmentationClass/<name>.png masks; found none")

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        image = find_image(self.root / "JPEGImages", mask_path.stem, self.root)
        return image, "no image with this name in JPEGImages/", self.splits.get(mask_path.stem)


def _read_labelmap(root: Path, path: Path) -> list[tuple[str, tuple[int, int, int] | None]] | None:
    """(name, colour) from a datumaro/CVAT labelmap.txt (`name:r,g,b:parts:actions` lines),
    without the `ignored` entry that stands for value 255."""
    text = dataset_text(root, path)
    if text is None:
        return None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        try:
            color = tuple(int(v) for v in rest.split(":", 1)[0].split(",")) if rest.split(":", 1)[0] else None
        except ValueError as exc:
            raise FormatError(f"{path}: cannot read the colour on line {number}") from exc
        if name.strip() == IGNORED and color in (None, IGNORE_COLOR):
            continue
        entries.append((name.strip(), color if color and len(color) == 3 else None))
    return entries or None


def _read_sets(root: Path, folder: Path) -> dict[str, str]:
    splits: dict[str, str] = {}
    for name in ("train", "val", "test"):
        text = dataset_text(root, folder / f"{name}.txt")
        if text is not None:
            for line in text.split():
                splits[line] = name
    return splits
