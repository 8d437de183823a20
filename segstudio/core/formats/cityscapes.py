"""Cityscapes layout: leftImg8bit/<split>/<group>/ and gtFine/<split>/<group>/.

Per image: <name>_leftImg8bit<suffix> (the original, copied or linked), and in gtFine
<name>_gtFine_labelIds.png (class ids, 255 = ignore), _instanceIds.png (the same ids: every
class is "stuff", as semantic labels have no instances), _color.png (class colours, ignore
black) and _polygons.json (one polygon per region, largest first so that drawing them in order
reproduces the mask, as Cityscapes' own json2labelImg does). label_colors.txt names the classes
("r g b name" per line, line number = id: datumaro's convention). The importer reads the
labelIds PNGs; without label_colors.txt it assumes the 34 standard Cityscapes labels.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, IndexMaskReader, find_image, place_image, write_png, write_text,
)
from segstudio.core.formats.polygons import label_regions, ring_points
from segstudio.core.labels import ignore_for

CITYSCAPES_LABELS = (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static", "dynamic", "ground",
    "road", "sidewalk", "parking", "rail track", "building", "wall", "fence", "guard rail", "bridge",
    "tunnel", "pole", "polegroup", "traffic light", "traffic sign", "vegetation", "terrain", "sky",
    "person", "rider", "car", "truck", "bus", "caravan", "trailer", "train", "motorcycle", "bicycle",
)
IMAGE_SUFFIX = "_leftImg8bit"
LABEL_SUFFIX = "_gtFine_labelIds.png"
LABEL_COLORS = "label_colors.txt"


class CityscapesWriter:
    def __init__(self, context: ExportContext):
        self.context = context
        self.groups: dict[str, set[str]] = defaultdict(set)
        lut = np.zeros((65536, 3), dtype=np.uint8)
        for cls in context.classes:
            lut[cls.id] = cls.color
        self.color_lut = lut

    def add(self, sample: ExportSample) -> None:
        root = self.context.root
        group = sample.group
        image = root / "leftImg8bit" / sample.split / group / f"{sample.name}{IMAGE_SUFFIX}{sample.image_path.suffix.lower()}"
        place_image(sample.image_path, image, self.context.link_images)
        stem = root / "gtFine" / sample.split / group / f"{sample.name}_gtFine"
        label = sample.label
        ignored = label == sample.ignore
        write_png(f"{stem}_labelIds.png", label)
        write_png(f"{stem}_instanceIds.png", label.astype(np.uint16))
        color = self.color_lut[label]
        color[ignored] = 0
        write_png(f"{stem}_color.png", color)
        write_text(f"{stem}_polygons.json", json.dumps(self._polygons(label), separators=(",", ":")))
        self.groups[sample.split].add(group)

    def _polygons(self, label: np.ndarray) -> dict:
        names = {c.id: c.name for c in self.context.classes}
        objects = [{"label": names[region.class_id], "polygon": ring_points(region.keyhole())}
                   for region in label_regions(label, names)]
        return {"imgHeight": int(label.shape[0]), "imgWidth": int(label.shape[1]), "objects": objects}

    def finish(self) -> list[str]:
        lines = [f"{r} {g} {b} {c.name}" for c in self.context.classes for r, g, b in [c.color]]
        write_text(self.context.root / LABEL_COLORS, "\n".join(lines) + "\n")
        return ["Masks: gtFine/*_gtFine_labelIds.png hold class ids (255 = ignore); _instanceIds.png "
                "holds the same ids (semantic labels have no instances); _color.png uses the class "
                "colours with ignore in black; _polygons.json lists regions largest first."]


class CityscapesReader(IndexMaskReader):
    def __init__(self, root: Path):
        self.root = root
        if not (root / "gtFine").is_dir():
            raise FormatError(f"{root} is not a Cityscapes dataset: it has no gtFine/ folder")
        self.names = _read_label_colors(root / LABEL_COLORS) or list(CITYSCAPES_LABELS)
        self.ignore = ignore_for(len(self.names))
        self.masks = sorted((root / "gtFine").glob(f"*/**/*{LABEL_SUFFIX}"))

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        relative = mask_path.parent.relative_to(self.root / "gtFine")
        name = mask_path.name[: -len(LABEL_SUFFIX)] + IMAGE_SUFFIX
        image = find_image(self.root / "leftImg8bit" / relative, name)
        return image, f"no {name} image in leftImg8bit/{relative.as_posix()}/", relative.parts[0]


def _read_label_colors(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(maxsplit=3)
        names.append(fields[3] if len(fields) == 4 else line.strip())
    return names or None
