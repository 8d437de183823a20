"""YOLO segmentation: data.yaml, images/<split>/ and labels/<split>/*.txt (Ultralytics' layout).

Each label line is `class x1 y1 x2 y2 ...`: one region's ring normalised by the image width and
height. The exporter writes vertex (x, y) of a pixel-centre ring as (x + 0.5) / width with 8
decimals, so Ultralytics' truncation lands on pixel x (raster.py). Regions with holes are keyhole
rings (polygons.py), lines largest region first.

The importer finds the images the way Ultralytics does: the train/val/test entries of data.yaml,
relative to its `path` (else the yaml's folder), with Roboflow's `../train/images` read as
`train/images`, and image-list files (`train: train.txt`, as datumaro writes); each image's labels are the same path with the last `images` folder replaced by
`labels` and the suffix by .txt. Without usable entries it looks for images/ and */images/.
Detection lines (`class xc yc w h`) are filled boxes. Rasterisation and overlaps follow
Ultralytics (raster.py): larger polygons first, smaller on top.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    UNLABELLED, ExportContext, ExportSample, FileProblem, ImportSample, image_size, place_image, write_text,
)
from segstudio.core.formats.polygons import label_regions, ring_points
from segstudio.core.formats.raster import bounded_ring, fill_truncated, truncated_mask_area
from segstudio.core.formats.safety import dataset_file, dataset_files, dataset_text, inside, load_yaml, safe_join

SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "test": "test"}
CONFIG_NAMES = ("data.yaml", "data.yml", "dataset.yaml")
MAX_LABEL_BYTES = 64 * 2**20


class YoloWriter:
    def __init__(self, context: ExportContext):
        self.context = context
        self.splits: set[str] = set()

    def add(self, sample: ExportSample) -> None:
        root = self.context.root
        place_image(sample.image_path, root / "images" / sample.split / f"{sample.name}{sample.image_path.suffix.lower()}",
                    self.context.link_images)
        height, width = sample.label.shape
        lines = []
        for region in label_regions(sample.label, [c.id for c in self.context.classes]):
            coords = " ".join(f"{(x + 0.5) / width:.8f} {(y + 0.5) / height:.8f}"
                              for x, y in ring_points(region.keyhole()))
            lines.append(f"{region.class_id} {coords}\n")
        write_text(root / "labels" / sample.split / f"{sample.name}.txt", "".join(lines))
        self.splits.add(sample.split)

    def finish(self) -> list[str]:
        import yaml

        config: dict = {}
        for split in ("train", "val", "test"):
            if split in self.splits or split in ("train", "val"):
                config[split] = f"images/{split}"
                (self.context.root / "images" / split).mkdir(parents=True, exist_ok=True)
        config["nc"] = len(self.context.classes)
        config["names"] = {c.id: c.name for c in self.context.classes}
        write_text(self.context.root / "data.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return ["Labels: one line per region, `class x1 y1 ...` normalised; each vertex is a pixel centre, "
                "(x + 0.5) / width, so Ultralytics' int32 truncation lands on that pixel; regions with holes "
                "are keyhole rings; lines are ordered largest region first."]


class YoloReader:
    def __init__(self, root: Path):
        self.root = root
        config_path = next((dataset_file(root, root / n) for n in CONFIG_NAMES if dataset_file(root, root / n)), None)
        if config_path is None:
            raise FormatError(f"{root} is not a YOLO dataset: expected data.yaml (Ultralytics or Roboflow "
                              "layout) in the folder; found none")
        config = load_yaml(config_path)
        if not isinstance(config, dict):
            raise FormatError(f"{config_path} is not a YOLO data.yaml (expected a mapping with names and train/val)")
        self.names = _read_names(config, config_path)
        self.items, searched = self._find_items(config)
        if not self.items:
            raise FormatError(f"{root} is not a YOLO dataset that SegStudio can read: expected label files "
                              f"for the images in {', '.join(searched) or 'images/ and */images/'} (each image's "
                              "labels in the matching labels/ folder, as Ultralytics pairs them); found none")

    def _find_items(self, config: dict) -> tuple[list[tuple[Path, Path, str | None]], list[str]]:
        """(image, label file, split) for every image with a label file; and the folders searched."""
        base = self.root
        if isinstance(config.get("path"), str) and config["path"].strip():
            candidate = (self.root / config["path"]).resolve()
            base = candidate if candidate.is_dir() and inside(self.root, candidate) else self.root
        folders: list[tuple[Path, str | None]] = []
        for key in ("train", "val", "test", "valid"):
            values = config.get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and value.strip():
                    folder = base / value
                    if not folder.exists() and value.startswith("../"):  # Roboflow's data.yaml
                        folder = base / value[3:]
                    folders.append((folder, SPLIT_ALIASES[key]))
        usable = [(f, split) for f, split in folders if (f.is_dir() or f.suffix == ".txt") and inside(self.root, f)]
        if not usable:
            usable = [(f, SPLIT_ALIASES.get(f.parent.name)) for f in
                      [self.root / "images", *sorted(self.root.glob("*/images"))] if f.is_dir() and inside(self.root, f)]
        items, seen = [], set()
        for source, split in usable:
            images = _images_in(self.root, source) if source.is_dir() else self._listed(source, base)
            for image in images:
                label = _label_path(image)
                if image in seen or label is None or dataset_file(self.root, label) is None:
                    continue
                seen.add(image)
                sub = image.parent.relative_to(source).parts if source.is_dir() else ()
                items.append((image, label, split or (SPLIT_ALIASES.get(sub[0]) if sub else None)))
        return items, [_shown(self.root, f) for f, _ in folders]

    def _listed(self, list_file: Path, base: Path) -> list[Path]:
        """An image-list entry (`train: train.txt`): one image a line, `./x` relative to the list's
        folder and other lines to the dataset (Ultralytics' rule); only images inside the folder."""
        images = []
        for line in (dataset_text(self.root, list_file) or "").splitlines():
            if line.strip():
                try:
                    path = safe_join(self.root, line.strip()[2:] if line.startswith("./") else line.strip(),
                                     base=list_file.parent if line.startswith("./") else base)
                except FormatError:
                    continue
                if dataset_file(self.root, path) is not None:
                    images.append(path)
        return images

    def class_names(self) -> list[str]:
        return list(self.names)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        for image_path, label_path, split in self.items:
            try:
                label = self._paint(label_path, image_size(image_path))
            except Exception as exc:  # noqa: BLE001 - one bad file is reported, the rest imports
                yield FileProblem(label_path, str(exc).replace(f"{label_path}: ", ""))
                continue
            yield ImportSample(image_path, label, label_path, split)

    def _paint(self, path: Path, shape: tuple[int, int]) -> np.ndarray:
        """Ultralytics' rule on one label map: larger rasterised areas first, smaller on top."""
        height, width = shape
        rings = []
        for number, class_id, values in _label_lines(path, len(self.names)):
            if len(values) == 4:
                xc, yc, w, h = values
                values = [xc - w / 2, yc - h / 2, xc + w / 2, yc - h / 2, xc + w / 2, yc + h / 2, xc - w / 2, yc + h / 2]
            if len(values) < 6 or len(values) % 2:
                raise FormatError(f"line {number}: expected a box or at least three x y pairs, got {len(values)} numbers")
            scaled = np.asarray(values, dtype=np.float64).reshape(-1, 2) * (width, height)
            ring = bounded_ring(scaled, shape, path, f"line {number}")
            rings.append((truncated_mask_area(ring, shape), class_id, ring))
        label = np.full(shape, UNLABELLED, dtype=np.int32)
        for _, class_id, ring in sorted(rings, key=lambda item: -item[0]):
            fill_truncated(label, ring, class_id)
        return label


def _label_lines(path: Path, classes: int):
    """(line number, class id, numbers) per non-empty line; nothing from the file is echoed in
    messages (a label file may be a link to something private)."""
    if path.stat().st_size > MAX_LABEL_BYTES:
        raise FormatError(f"label file is over {MAX_LABEL_BYTES // 2**20} MiB")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("not a YOLO label file (not UTF-8 text)") from None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            class_id, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            raise FormatError(f"line {number}: expected a class number and coordinates") from None
        if not 0 <= class_id < classes:
            raise FormatError(f"line {number}: class {class_id} is not among the {classes} names in data.yaml")
        yield number, class_id, values


def _images_in(root: Path, folder: Path) -> list[Path]:
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    return [p for p in dataset_files(root, folder, "*") if p.suffix.lower() in IMAGE_EXTENSIONS]


def _label_path(image: Path) -> Path | None:
    """Ultralytics' img2label_paths: the last /images/ becomes /labels/, the suffix .txt."""
    parts = image.parts
    if "images" not in parts[:-1]:
        return None
    index = len(parts) - 2 - parts[:-1][::-1].index("images")
    return Path(*parts[:index], "labels", *parts[index + 1:]).with_suffix(".txt")


def _shown(root: Path, folder: Path) -> str:
    try:
        return folder.relative_to(root).as_posix() + "/"
    except ValueError:
        return "a folder outside the dataset"


def _read_names(config: dict, path: Path) -> list[str]:
    names = config.get("names")
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except (TypeError, ValueError):
            raise FormatError(f"{path}: the keys of names must be class numbers 0..N-1") from None
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise FormatError(f"{path}: names must be numbered 0..N-1")
        return [v for _, v in ordered]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise FormatError(f"{path} has no class names (a `names:` list or mapping)")
