"""labelme JSON: one file per image, beside it, with one polygon shape per region.

Export: <split>/<name><suffix> and <split>/<name>.json (imagePath relative, imageData null).
Regions with holes are keyhole polygons (polygons.py); shapes are listed largest first, so
labelme's own labelme2voc (which draws in order) reproduces the mask.

Import: every *.json under the folder. imagePath is read relative to the JSON file and must
stay inside the dataset folder; when the file is missing, an embedded imageData is used after
its header passed the size check. Polygons, rectangles and circles are areas; points and lines
have none and are skipped. Overlaps: the smaller shape wins.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, FileProblem, ImportSample, image_size, place_image, write_text,
)
from segstudio.core.formats.polygons import PolygonShape, label_regions, paint_polygons, ring_points
from segstudio.core.formats.safety import decode_embedded_image, load_json, safe_join

LABELME_VERSION = "5.5.0"
AREA_SHAPES = {"polygon", "rectangle", "circle"}


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
        self.files = sorted(p for p in root.rglob("*.json") if not p.name.startswith("."))
        if not self.files:
            raise FormatError(f"{root} holds no labelme .json files")
        self._names: list[str] | None = None

    def class_names(self) -> list[str]:
        """Shape labels in order of first appearance (files that cannot be read are skipped here)."""
        if self._names is None:
            names: dict[str, None] = {}
            for path in self.files:
                try:
                    document = _document(path)
                except FormatError:
                    continue
                for shape in document["shapes"]:
                    if _is_area(shape):
                        names.setdefault(str(shape.get("label", "")), None)
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
                yield FileProblem(path, f"cannot import: {exc}")

    def _sample(self, path: Path, names: dict[str, int]) -> ImportSample:
        document = _document(path)
        image_path = safe_join(self.root, str(document.get("imagePath") or f"{path.stem}.png"), base=path.parent)
        embedded, suffix = None, ".png"
        if image_path.is_file():
            shape = image_size(image_path)
        elif document.get("imageData"):
            embedded, suffix = decode_embedded_image(str(document["imageData"]), path)
            shape = _embedded_shape(embedded)
        else:
            raise FormatError(f"image {document.get('imagePath')!r} not found and no imageData embedded")
        declared = (document.get("imageHeight"), document.get("imageWidth"))
        if None not in declared and tuple(declared) != shape:
            raise FormatError(f"declares a {declared[1]}x{declared[0]} image but the image is {shape[1]}x{shape[0]}")
        shapes = [PolygonShape(names[str(s.get("label", ""))], _ring(s)) for s in document["shapes"] if _is_area(s)]
        label = paint_polygons(shape, shapes)
        return ImportSample(image_path, label, path, _split_of(path, self.root), embedded, suffix)


def _document(path: Path) -> dict:
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
        raise FormatError(f"{path}: not a labelme file (no shapes list)")
    return document


def _is_area(shape: object) -> bool:
    return isinstance(shape, dict) and (shape.get("shape_type") or "polygon") in AREA_SHAPES


def _ring(shape: dict) -> np.ndarray:
    try:
        points = np.array(shape.get("points"), dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"shape {shape.get('label')!r} has malformed points") from exc
    kind = shape.get("shape_type") or "polygon"
    if kind == "rectangle" and len(points) == 2:
        (x0, y0), (x1, y1) = points
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if kind == "circle" and len(points) == 2:
        (cx, cy), (px, py) = points
        radius = math.hypot(px - cx, py - cy)
        angles = np.linspace(0, 2 * np.pi, max(12, int(radius * 2)), endpoint=False)
        return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    if len(points) < 3:
        raise FormatError(f"{kind} shape {shape.get('label')!r} has {len(points)} points")
    return points


def _embedded_shape(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.height, image.width


def _split_of(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 and parts[0] in ("train", "val", "test") else None
