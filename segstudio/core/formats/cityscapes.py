"""Cityscapes layout: leftImg8bit/<split>/<group>/ and gtFine/<split>/<group>/.

Per image: <name>_leftImg8bit<suffix> (the original, copied or linked), and in gtFine
<name>_gtFine_labelIds.png (class ids, 255 = ignore), _instanceIds.png (the same ids: every
class is "stuff", as semantic labels have no instances), _color.png (class colours, ignore
black) and _polygons.json (one polygon per region, largest first so that drawing them in order
reproduces the mask, as Cityscapes' own json2labelImg does). label_colors.txt names the classes
("r g b name" per line, line number = id: datumaro's and CVAT's convention) and dataset_meta.json
says the same for datumaro, whose label_colors.txt parser cannot read names with spaces. Class 0
is written black in both: datumaro inserts a "background" label, shifting every id, when no
class is black. An image already called *_leftImg8bit keeps one suffix.

The importer reads gtFine/<split>/<city>/*_gtFine_labelIds.png, else *_labelTrainIds.png (the 19
training classes, 255 ignore), else *_instanceIds.png (id // 1000 for instances), with images in
leftImg8bit/ or CVAT's imgsFine/leftImg8bit/. Classes: label_colors.txt, else datumaro's
dataset_meta.json, else the standard Cityscapes labels.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    DATASET_META, ExportContext, ExportSample, IndexMaskReader, find_image, place_image, read_dataset_meta,
    write_png, write_text,
)
from segstudio.core.formats.polygons import label_regions, ring_points
from segstudio.core.formats.safety import dataset_files, dataset_text
from segstudio.core.labels import ignore_for

CITYSCAPES_LABELS = (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static", "dynamic", "ground",
    "road", "sidewalk", "parking", "rail track", "building", "wall", "fence", "guard rail", "bridge",
    "tunnel", "pole", "polegroup", "traffic light", "traffic sign", "vegetation", "terrain", "sky",
    "person", "rider", "car", "truck", "bus", "caravan", "trailer", "train", "motorcycle", "bicycle",
)
TRAIN_LABELS = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
IMAGE_SUFFIX = "_leftImg8bit"
LABEL_SUFFIX = "_gtFine_labelIds.png"
MASK_KINDS = (LABEL_SUFFIX, "_gtFine_labelTrainIds.png", "_gtFine_instanceIds.png")
IMAGE_ROOTS = ("leftImg8bit", "imgsFine/leftImg8bit")
LABEL_COLORS = "label_colors.txt"


class CityscapesWriter:
    def __init__(self, context: ExportContext):
        self.context = context
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.colors = {c.id: (0, 0, 0) if c.id == 0 else tuple(c.color) for c in context.classes}
        lut = np.zeros((65536, 3), dtype=np.uint8)
        for class_id, color in self.colors.items():
            lut[class_id] = color
        self.color_lut = lut

    def add(self, sample: ExportSample) -> None:
        root = self.context.root
        group = sample.group
        name = sample.name.removesuffix(IMAGE_SUFFIX)
        image = root / "leftImg8bit" / sample.split / group / f"{name}{IMAGE_SUFFIX}{sample.image_path.suffix.lower()}"
        place_image(sample.image_path, image, self.context.link_images)
        stem = root / "gtFine" / sample.split / group / f"{name}_gtFine"
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
        classes = self.context.classes
        lines = [f"{r} {g} {b} {c.name}" for c in classes for r, g, b in [self.colors[c.id]]]
        write_text(self.context.root / LABEL_COLORS, "\n".join(lines) + "\n")
        meta = {"labels": [c.name for c in classes], "label_map": {str(c.id): c.name for c in classes},
                "segmentation_colors": [list(self.colors[c.id]) for c in classes], "background_label": "0"}
        write_text(self.context.root / DATASET_META, json.dumps(meta, indent=1, ensure_ascii=False))
        return ["Masks: gtFine/*_gtFine_labelIds.png hold class ids (255 = ignore); _instanceIds.png "
                "holds the same ids (semantic labels have no instances); _color.png uses the class "
                "colours with class 0 and ignore in black (datumaro reads black as its background label); "
                "_polygons.json lists regions largest first."]


class CityscapesReader(IndexMaskReader):
    def __init__(self, root: Path):
        self.root = root
        if not (root / "gtFine").is_dir():
            raise FormatError(f"{root} is not a Cityscapes dataset: expected gtFine/<split>/<city>/ and "
                              "leftImg8bit/<split>/<city>/ (or CVAT's imgsFine/leftImg8bit/); it has no gtFine/ folder")
        found = {kind: dataset_files(root, root / "gtFine", f"*{kind}") for kind in MASK_KINDS}
        self.kind = next((kind for kind in MASK_KINDS if found[kind]), None)
        if self.kind is None:
            raise FormatError(f"{root} is not a Cityscapes dataset SegStudio can read: expected "
                              f"gtFine/<split>/<city>/<name>{' or '.join(MASK_KINDS)}; found none")
        self.masks = found[self.kind]
        default = TRAIN_LABELS if self.kind == MASK_KINDS[1] else CITYSCAPES_LABELS
        self.names = (_read_label_colors(root, root / LABEL_COLORS) or read_dataset_meta(root, root / DATASET_META)
                      or list(default))
        self.ignore = ignore_for(len(self.names))

    def read_mask(self, mask_path: Path) -> np.ndarray:
        array = super().read_mask(mask_path)
        if self.kind == MASK_KINDS[2]:  # instance ids: class * 1000 + instance for "things"
            array = np.where(array >= 1000, array // 1000, array)
        return array

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        relative = mask_path.parent.relative_to(self.root / "gtFine")
        name = mask_path.name[: -len(self.kind)] + IMAGE_SUFFIX
        for folder in IMAGE_ROOTS:
            image = find_image(self.root / folder / relative, name, self.root)
            if image is not None:
                break
        return image, f"no {name} image in leftImg8bit/{relative.as_posix()}/", relative.parts[0]


def _read_label_colors(root: Path, path: Path) -> list[str] | None:
    text = dataset_text(root, path)
    if text is None:
        return None
    names = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(maxsplit=3)
        names.append(fields[3] if len(fields) == 4 else line.strip())
    return names or None
