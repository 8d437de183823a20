"""COCO: images/<split>/ and annotations/instances_<split>.json, one annotation per region.

Export: every 8-connected region of a class is one annotation whose segmentation is a
compressed RLE (pycocotools), with its area and bbox; `iscrowd` is 0. RLE is used for every
region rather than polygons because COCO polygons cannot express holes and pycocotools
rasterises polygons with pixel-edge coordinates, so RLE is the only exact choice. Category ids
are the class ids + 1 (COCO keeps 0 for "nothing").

Import (semantic from instances): polygons, uncompressed and compressed RLE are all read.
Overlap rule: where annotations overlap, the one with the smaller area wins (larger ones are
painted first; equal areas: the later annotation in the file wins). So a person on a road keeps
its pixels whatever the order of the file. Pixels no annotation covers are unlabelled.
Annotation files are looked for in annotations/, then the folder, then its sub-folders
(Roboflow's train/_annotations.coco.json); images beside them in images/<name>/, <name>/,
images/<split>/, <split>/, images/ or the folder, where <name> is the file's name without
`instances_` (the official `instances_val2017.json` with `val2017/` or `images/val2017/`,
datumaro's `instances_default.json` with `images/default/`, mmdetection's `train/`, `val/`).
Files of other COCO tasks (captions, image_info, panoptic) are recognised and left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    UNLABELLED, ExportContext, ExportSample, FileProblem, ImportSample, image_size, place_image, write_text,
)
from segstudio.core.formats.raster import bounded_ring
from segstudio.core.formats.safety import dataset_files, load_json, safe_join

SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def region_annotations(label: np.ndarray, class_ids: list[int]) -> list[tuple[int, dict, int, list[float]]]:
    """(class id, RLE, area, bbox) for each connected region of each class in `label`."""
    from pycocotools import mask as mask_utils

    result = []
    present = set(np.unique(label).tolist())
    for class_id in class_ids:
        if class_id not in present:
            continue
        count, components = cv2.connectedComponents((label == class_id).astype(np.uint8), connectivity=8)
        for index in range(1, count):
            region = np.asfortranarray((components == index).astype(np.uint8))
            rle = mask_utils.encode(region)
            area = int(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            rle["counts"] = rle["counts"].decode("ascii")
            result.append((class_id, rle, area, bbox))
    return result


class CocoWriter:
    def __init__(self, context: ExportContext):
        self.context = context
        self.images: dict[str, list[dict]] = defaultdict(list)
        self.annotations: dict[str, list[dict]] = defaultdict(list)
        self.next_image_id = 1
        self.next_annotation_id = 1

    def add(self, sample: ExportSample) -> None:
        file_name = f"{sample.name}{sample.image_path.suffix.lower()}"
        place_image(sample.image_path, self.context.root / "images" / sample.split / file_name,
                    self.context.link_images)
        height, width = sample.label.shape
        image_id = self.next_image_id
        self.next_image_id += 1
        self.images[sample.split].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        class_ids = [c.id for c in self.context.classes]
        for class_id, rle, area, bbox in region_annotations(sample.label, class_ids):
            self.annotations[sample.split].append({
                "id": self.next_annotation_id, "image_id": image_id, "category_id": class_id + 1,
                "segmentation": rle, "area": area, "bbox": bbox, "iscrowd": 0})
            self.next_annotation_id += 1

    def finish(self) -> list[str]:
        categories = [{"id": c.id + 1, "name": c.name, "supercategory": ""} for c in self.context.classes]
        for split, images in self.images.items():
            document = {"info": {"description": "exported by SegStudio"}, "licenses": [], "images": images,
                        "annotations": self.annotations[split], "categories": categories}
            write_text(self.context.root / "annotations" / f"instances_{split}.json",
                              json.dumps(document, separators=(",", ":")))
        return ["Annotations: one per connected region of a class, segmentation as compressed RLE "
                "(exact, holes included), category id = class id + 1; unlabelled pixels have no annotation."]


class CocoReader:
    def __init__(self, root: Path):
        explicit = root.is_file()
        if explicit:
            files = [root]
            root = root.parent.parent if root.parent.name == "annotations" else root.parent
        else:
            files = (dataset_files(root, root / "annotations", "*.json", recursive=False)
                     or dataset_files(root, root, "*.json", recursive=False)
                     or [p for p in dataset_files(root, root, "*/*.json") if len(p.relative_to(root).parts) == 2])
        self.root = root
        self.notes: list[str] = []
        kinds = [(path, document, _kind(document, path)) for path in files for document in [load_json(path)]]
        if explicit and kinds[0][2] != "instances":
            raise FormatError(f"{files[0]} is a COCO {kinds[0][2]} file, not instance annotations "
                              "(instances_*.json, with segmentation); it cannot be imported as labels")
        if any(path.name.startswith("instances") for path, _, _ in kinds):  # the official and datumaro naming
            kinds = [(path, document, kind if path.name.startswith("instances") else _named_kind(path, kind))
                     for path, document, kind in kinds]
        usable = [(path, document) for path, document, kind in kinds if kind == "instances"]
        self.notes = [f"{path.name}: COCO {kind} file, not imported" for path, _, kind in kinds if kind != "instances"]
        if not usable:
            found = ", ".join(f"{path.name} ({kind})" for path, _, kind in kinds[:6]) or "no .json files"
            raise FormatError(f"{root} is not a COCO dataset SegStudio can read: expected instance annotations "
                              f"(annotations/instances_<name>.json with images, annotations and categories); "
                              f"found {found}")
        self.documents = [(path, _checked(document, path)) for path, document in usable]
        self.names: list[str] = []
        for _, document in self.documents:
            for category in sorted(document["categories"], key=lambda c: c["id"]):
                if category["name"] not in self.names:
                    self.names.append(category["name"])

    def class_names(self) -> list[str]:
        return list(self.names)

    def __len__(self) -> int:
        return sum(len(document["images"]) for _, document in self.documents)

    def __iter__(self):
        for path, document in self.documents:
            tag = path.stem.removeprefix("instances_") if path.parent.name == "annotations" or path.parent == self.root \
                else path.parent.name
            split = SPLITS.get(tag.rstrip("0123456789").rstrip("_-").lower())
            categories = {c["id"]: self.names.index(c["name"]) for c in document["categories"]}
            by_image: dict[object, list[dict]] = defaultdict(list)
            for annotation in document["annotations"]:
                by_image[annotation.get("image_id")].append(annotation)
            for image in document["images"]:
                file_name = str(image.get("file_name", ""))
                try:
                    image_path = self._image_path(file_name, path.parent, tag, split)
                    label = _paint(image_path, by_image[image.get("id")], categories, path)
                except Exception as exc:  # noqa: BLE001 - one bad image is reported, the rest imports
                    reason = str(exc).replace(f"{path}: ", "") if isinstance(exc, FormatError) else type(exc).__name__
                    yield FileProblem(path, f"image {file_name[:200]!r}: {reason}")
                    continue
                yield ImportSample(image_path, label, path, split)

    def _image_path(self, file_name: str, folder: Path, tag: str, split: str | None) -> Path:
        candidates = [f"images/{tag}/{file_name}", f"{tag}/{file_name}"]
        if split:
            candidates += [f"images/{split}/{file_name}", f"{split}/{file_name}"]
        candidates += [f"images/{file_name}", file_name]
        paths = [safe_join(self.root, candidate) for candidate in candidates]
        paths.append(safe_join(self.root, file_name, base=folder))
        for path in paths:
            if path.is_file():
                return path
        raise FormatError(f"image file not found (looked in images/{tag}/, {tag}/, images/ and the dataset folder)")


def _kind(document: object, path: Path) -> str:
    """What a COCO JSON file holds: instances, captions, image_info, panoptic or not COCO."""
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        return "not a COCO annotation file"
    annotations = document.get("annotations")
    if not isinstance(annotations, list):
        return "image_info"
    first = next((a for a in annotations if isinstance(a, dict)), {})
    if "caption" in first:
        return "captions"
    if "segments_info" in first:
        return "panoptic"
    if not isinstance(document.get("categories"), list):
        return "not a COCO annotation file"
    if annotations and not any(isinstance(a, dict) and a.get("segmentation") for a in annotations[:1000]):
        return "detection (boxes only)"
    return "instances"


def _named_kind(path: Path, kind: str) -> str:
    """The task a file beside instances_*.json holds, by its official name prefix."""
    for prefix in ("captions", "image_info", "panoptic", "person_keypoints", "stuff", "labels"):
        if path.name.startswith(prefix):
            return prefix
    return kind if kind != "instances" else "other annotations"


def _checked(document: dict, path: Path) -> dict:
    for number, category in enumerate(document["categories"], start=1):
        if not (isinstance(category, dict) and isinstance(category.get("id"), int)
                and isinstance(category.get("name"), str)):
            raise FormatError(f"{path}: category {number} needs an integer id and a name")
    for key in ("images", "annotations"):
        bad = next((n for n, entry in enumerate(document[key], start=1) if not isinstance(entry, dict)), None)
        if bad is not None:
            raise FormatError(f"{path}: entry {bad} of {key} is not an object")
    return document


def _paint(image_path: Path, annotations: list[dict], categories: dict[int, int], origin: Path) -> np.ndarray:
    """Semantic label from instance annotations: larger areas first, smaller on top; equal areas
    keep file order. One annotation is decoded at a time (memory does not grow with their count)."""
    from pycocotools import mask as mask_utils

    height, width = image_size(image_path)
    encoded = []
    for order, annotation in enumerate(annotations):
        if annotation.get("category_id") not in categories:
            raise FormatError(f"annotation {str(annotation.get('id'))[:20]} has category_id "
                              f"{str(annotation.get('category_id'))[:20]}, which is not among the categories")
        rle = _encode(annotation.get("segmentation"), height, width, mask_utils, origin, order)
        if rle is not None:
            encoded.append((int(mask_utils.area(rle)), order, categories[annotation["category_id"]], rle))
    label = np.full((height, width), UNLABELLED, dtype=np.int32, order="F")  # pycocotools' order
    for _, _, class_id, rle in sorted(encoded, key=lambda item: (-item[0], item[1])):
        np.copyto(label, class_id, where=mask_utils.decode(rle).view(bool))
    return np.ascontiguousarray(label)


def _encode(segmentation: object, height: int, width: int, mask_utils, origin: Path, order: int) -> dict | None:
    """One annotation's segmentation as a compressed RLE (None: nothing drawn), after checking
    every number pycocotools would trust."""
    what = f"annotation {order + 1}"
    if isinstance(segmentation, list):
        rings = [bounded_ring(p, (height, width), origin, what) for p in segmentation if isinstance(p, list) and len(p) >= 6]
        rings = [ring.ravel().tolist() for ring in rings if len(ring) >= 3]
        return mask_utils.merge(mask_utils.frPyObjects(rings, height, width)) if rings else None
    if not (isinstance(segmentation, dict) and "counts" in segmentation):
        if segmentation in (None, {}):
            return None
        raise FormatError(f"{what}: segmentation is neither polygons nor RLE")
    if list(segmentation.get("size", [])) != [height, width]:
        raise FormatError(f"{what}: RLE size {str(segmentation.get('size'))[:40]} differs from the image's [{height}, {width}]")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
            raise FormatError(f"{what}: uncompressed RLE counts must be non-negative integers summing to {height * width}")
        return mask_utils.frPyObjects(segmentation, height, width)
    if isinstance(counts, str):
        if _string_counts(counts, what) != height * width:
            raise FormatError(f"{what}: compressed RLE does not cover the image's {height * width} pixels exactly")
        return {"size": [height, width], "counts": counts.encode("ascii")}
    raise FormatError(f"{what}: RLE counts are neither a list nor a string")


def _string_counts(text: str, what: str) -> int:
    """The pixel total of a compressed COCO RLE string (pycocotools' rleFrString, checked), so
    that counts which do not add up to the image are refused before pycocotools decodes them."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text) or not 48 <= ord(text[position]) < 48 + 64:
                raise FormatError(f"{what}: compressed RLE is malformed")
            char = ord(text[position]) - 48
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise FormatError(f"{what}: compressed RLE has negative run lengths")
        counts.append(value)
    return sum(counts)
