"""labelme JSON: one file per image, beside it, with one polygon shape per region.

Export: <split>/<name><suffix> and <split>/<name>.json (imagePath relative, imageData null).
Regions with holes are keyhole polygons (polygons.py); shapes are listed largest first, so
labelme's own labelme2voc (which draws in order) reproduces the mask.

Import reads what labelme's own `shapes_to_label` (used by its labelme2voc and
labelme_json_to_dataset) paints: every shape type (polygon, rectangle, circle, oriented
rectangle, mask, and lines and points drawn 10 and 5 pixels wide as labelme does), in file order,
later shapes on top, drawn with PIL as labelme draws them (see raster.py). `__ignore__` shapes
paint "unlabelled", as labelme2voc's -1 does; they are not a class. imagePath is read relative to
the JSON file and must stay inside the dataset folder; when it is not a readable image, the
embedded imageData is used (labelme reads imageData first) after its header passed the size check.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, FileProblem, ImportSample, image_size, place_image, write_text,
)
from segstudio.core.formats.polygons import label_regions, ring_points
from segstudio.core.formats.raster import CLIP_MARGIN, bounded_ring, finite_points, near_image
from segstudio.core.formats.safety import dataset_files, decode_embedded_image, load_json, safe_join

LABELME_VERSION = "5.5.0"
IGNORE_LABEL = "__ignore__"
LINE_WIDTH, POINT_SIZE = 10, 5  # labelme's shape_to_mask defaults
SHAPE_TYPES = {"polygon", "rectangle", "circle", "oriented_rectangle", "line", "linestrip", "point", "mask"}


class LabelmeWriter:
    def __init__(self, context: ExportContext):
        self.context = context

    def add(self, sample: ExportSample) -> None:
        folder = self.context.root / sample.split
        image_name = f"{sample.name}{sample.image_path.suffix.lower()}"
        place_image(sample.image_path, folder / image_name, self.context.link_images)
        names = {c.id: c.name for c in self.context.classes}
        shapes = [{"label": names[region.class_id], "points": ring_points(region.keyhole()), "group_id": None,
                   "description": "", "shape_type": "polygon", "flags": {}, "mask": None}
                  for region in label_regions(sample.label, names)]
        height, width = sample.label.shape
        document = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_name,
                    "imageData": None, "imageHeight": height, "imageWidth": width}
        write_text(folder / f"{sample.name}.json", json.dumps(document, indent=1))

    def finish(self) -> list[str]:
        return ["Annotations: <split>/<name>.json beside each image, one polygon per region in pixel-centre "
                "coordinates, largest first; regions with holes are keyhole polygons."]


class LabelmeReader:
    def __init__(self, root: Path):
        if not root.is_dir():
            raise FormatError(f"{root} is not a folder of labelme JSON files")
        self.root = root
        self.files = dataset_files(root, root, "*.json")
        if not self.files:
            raise FormatError(f"{root} is not a labelme dataset: expected <name>.json files (labelme's "
                              "format, with a shapes list) in the folder or its sub-folders; found none")
        self._names: list[str] | None = None

    def class_names(self) -> list[str]:
        """Shape labels in order of first appearance, without __ignore__ (files that cannot be
        read are skipped here and reported by the import)."""
        if self._names is None:
            names: dict[str, None] = {}
            for path in self.files:
                try:
                    document = _document(path)
                except FormatError:
                    continue
                for shape in document["shapes"]:
                    if isinstance(shape, dict) and _label(shape) != IGNORE_LABEL:
                        names.setdefault(_label(shape), None)
            self._names = list(names)
        return list(self._names)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self):
        names = {name: index for index, name in enumerate(self.class_names())}
        for path in self.files:
            try:
                yield self._sample(path, names)
            except FormatError as exc:
                yield FileProblem(path, str(exc).replace(f"{path}: ", ""))
            except Exception as exc:  # noqa: BLE001 - one bad file is reported, the rest imports
                yield FileProblem(path, f"cannot import: {type(exc).__name__}")

    def _sample(self, path: Path, names: dict[str, int]) -> ImportSample:
        document = _document(path)
        image_path = safe_join(self.root, str(document.get("imagePath") or f"{path.stem}.png"), base=path.parent)
        embedded, suffix = None, ".png"
        shape = _readable_image_size(image_path)
        if shape is None:
            if not document.get("imageData"):
                raise FormatError(f"image {image_path.name!r} is not a readable image and no imageData is embedded")
            embedded, suffix = decode_embedded_image(str(document["imageData"]), path)
            shape = _embedded_shape(embedded)
        declared = (document.get("imageHeight"), document.get("imageWidth"))
        if None not in declared and tuple(declared) != shape:
            raise FormatError(f"declares a {declared[1]}x{declared[0]} image but the image is {shape[1]}x{shape[0]}")
        label = _paint(shape, document["shapes"], names, path)
        return ImportSample(image_path, label, path, _split_of(path, self.root), embedded, suffix)


def _document(path: Path) -> dict:
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
        raise FormatError(f"{path}: not a labelme file (no shapes list)")
    return document


def _label(shape: dict) -> str:
    return str(shape.get("label", ""))


def _readable_image_size(path: Path) -> tuple[int, int] | None:
    if not path.is_file():
        return None
    try:
        return image_size(path)
    except Exception:  # noqa: BLE001 - not an image: labelme then uses imageData
        return None


def _paint(shape: tuple[int, int], shapes: list, names: dict[str, int], origin: Path) -> np.ndarray:
    """labelme's shapes_to_label on one canvas: 0 = nothing, class id + 1 elsewhere."""
    from PIL import Image, ImageDraw

    canvas = Image.new("I", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for number, item in enumerate(shapes, start=1):
        if not isinstance(item, dict):
            raise FormatError(f"shape {number} is not an object")
        kind = item.get("shape_type") or "polygon"
        if kind not in SHAPE_TYPES:
            raise FormatError(f"shape {number} has shape_type {str(kind)[:40]!r}, which labelme does not write")
        value = 0 if _label(item) == IGNORE_LABEL else names[_label(item)] + 1
        what = f"shape {number} ({kind})"
        points = finite_points(item.get("points"), origin, what)
        if kind in ("polygon", "oriented_rectangle"):
            points = bounded_ring(points, shape, origin, what)
        elif kind == "rectangle":  # clamping an upright rectangle's corners is exact
            points = np.clip(points, -CLIP_MARGIN, np.array(shape[::-1]) + CLIP_MARGIN)
        else:
            points = near_image(points, shape, origin, what)
        _draw(draw, canvas, kind, [tuple(p) for p in points.tolist()], value, item, number, origin)
    return np.array(canvas, dtype=np.int32) - 1


def _draw(draw, canvas, kind: str, xy: list, value: int, item: dict, number: int, origin: Path) -> None:
    """One shape, with the PIL call labelme's shape_to_mask makes for its type."""
    need = {"circle": 2, "rectangle": 2, "line": 2, "point": 1, "oriented_rectangle": 4, "mask": 2}.get(kind)
    if (need is not None and len(xy) != need) or (kind == "polygon" and len(xy) < 3) or not xy:
        raise FormatError(f"shape {number} ({kind}) has {len(xy)} points")
    if kind == "circle":
        (cx, cy), (px, py) = xy
        radius = math.hypot(cx - px, cy - py)  # both points lie near the image (near_image)
        draw.ellipse(((cx - radius, cy - radius), (cx + radius, cy + radius)), outline=value, fill=value)
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = xy
        draw.rectangle(((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), outline=value, fill=value)
    elif kind in ("line", "linestrip"):
        draw.line(xy=xy, fill=value, width=LINE_WIDTH)
    elif kind == "point":
        (cx, cy), = xy
        draw.ellipse(((cx - POINT_SIZE, cy - POINT_SIZE), (cx + POINT_SIZE, cy + POINT_SIZE)), outline=value, fill=value)
    elif kind == "mask":
        _paste_mask(canvas, xy, value, item.get("mask"), number, origin)
    else:
        draw.polygon(xy=xy, outline=value, fill=value)


def _paste_mask(canvas, xy: list, value: int, data: object, number: int, origin: Path) -> None:
    """A `mask` shape: a base64 PNG placed with its top-left corner at the first point."""
    from PIL import Image

    if not isinstance(data, str):
        raise FormatError(f"shape {number} (mask) has no mask data")
    raw, _ = decode_embedded_image(data, origin)
    with Image.open(io.BytesIO(raw)) as image:
        mask = np.array(image.convert("L")) > 0
    (x1, y1), _ = np.asarray(xy).astype(int)  # labelme: points.astype(int)
    height, width = canvas.size[1], canvas.size[0]
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y1 + mask.shape[0], height), min(x1 + mask.shape[1], width)
    if bottom <= top or right <= left:
        return
    window = mask[top - y1: bottom - y1, left - x1: right - x1]
    stencil = Image.fromarray(window.astype(np.uint8) * 255, mode="L")
    canvas.paste(value, (left, top, right, bottom), stencil)


def _embedded_shape(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.height, image.width


def _split_of(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 and parts[0] in ("train", "val", "test") else None
