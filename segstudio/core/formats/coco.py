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
from segstudio.core.formats.safety import load_json, safe_join

SPLITS = ("train", "val", "test")


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
        if root.is_file():
            files = [root]
            root = root.parent.parent if root.parent.name == "annotations" else root.parent
        else:
            folder = root / "annotations" if (root / "annotations").is_dir() else root
            files = sorted(folder.glob("*.json"))
        if not files:
            raise FormatError(f"{root} is not a COCO dataset: no annotations/*.json")
        self.root = root
        self.documents = [(path, _checked(load_json(path), path)) for path in files]
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
            split = next((s for s in SPLITS if path.stem.endswith(s)), None)
            categories = {c["id"]: self.names.index(c["name"]) for c in document["categories"]}
            by_image: dict[int, list[dict]] = defaultdict(list)
            for annotation in document["annotations"]:
                by_image[annotation.get("image_id")].append(annotation)
            for image in document["images"]:
                try:
                    image_path = self._image_path(str(image.get("file_name", "")), split)
                    label = _paint(image_path, by_image[image.get("id")], categories)
                except Exception as exc:  # noqa: BLE001 - one bad image is reported, the rest imports
                    yield FileProblem(path, f"image {image.get('file_name')!r}: {exc}")
                    continue
                yield ImportSample(image_path, label, path, split)

    def _image_path(self, file_name: str, split: str | None) -> Path:
        candidates = [f"images/{split}/{file_name}"] if split else []
        candidates += [f"images/{file_name}", file_name]
        paths = [safe_join(self.root, candidate) for candidate in candidates]
        for path in paths:
            if path.is_file():
                return path
        raise FormatError("image file not found under images/ or the dataset folder")


def _checked(document: object, path: Path) -> dict:
    if not isinstance(document, dict) or not all(isinstance(document.get(k), list)
                                                 for k in ("images", "annotations", "categories")):
        raise FormatError(f"{path} is not a COCO annotation file: it needs images, annotations and categories lists")
    return document


def _paint(image_path: Path, annotations: list[dict], categories: dict[int, int]) -> np.ndarray:
    """Semantic label from instance annotations: smaller area wins, then the later annotation."""
    from pycocotools import mask as mask_utils

    height, width = image_size(image_path)
    label = np.full((height, width), UNLABELLED, dtype=np.int32)
    decoded = []
    for order, annotation in enumerate(annotations):
        if annotation.get("category_id") not in categories:
            raise FormatError(f"annotation {annotation.get('id')} has unknown category_id {annotation.get('category_id')}")
        mask = _decode(annotation.get("segmentation"), height, width, mask_utils)
        decoded.append((int(mask.sum()), order, categories[annotation["category_id"]], mask))
    decoded.sort(key=lambda item: (-item[0], item[1]))
    for _, _, class_id, mask in decoded:
        label[mask.astype(bool)] = class_id
    return label


def _decode(segmentation: object, height: int, width: int, mask_utils) -> np.ndarray:
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), dtype=np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        if list(segmentation.get("size", [])) != [height, width]:
            raise FormatError(f"RLE size {segmentation.get('size')} differs from the image's [{height}, {width}]")
        rle = segmentation
        if isinstance(rle["counts"], list):
            rle = mask_utils.frPyObjects(rle, height, width)
        elif isinstance(rle["counts"], str):
            rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    else:
        raise FormatError("segmentation is neither polygons nor RLE")
    return mask_utils.decode(rle)
