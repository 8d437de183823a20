"""YOLO segmentation (Ultralytics layout): images/<split>/, labels/<split>/*.txt, data.yaml.

Each label line is `class x1 y1 x2 y2 ...`: one region's ring normalised by the image width
and height, in pixel-centre coordinates (what Ultralytics rasterises with cv2.fillPoly).
Regions with holes are written as keyhole rings (see polygons.py), lines largest region first.
The importer also accepts detection lines (`class xc yc w h`) as filled boxes. Overlaps: the
smaller shape wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, FileProblem, ImportSample, find_image, image_size, place_image, write_text,
)
from segstudio.core.formats.polygons import PolygonShape, label_regions, paint_polygons, ring_points

SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "test": "test"}


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
            coords = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in ring_points(region.keyhole()))
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
        return ["Labels: one line per region, `class x1 y1 ...` normalised, pixel-centre coordinates; "
                "regions with holes are keyhole rings; lines are ordered largest region first."]


class YoloReader:
    def __init__(self, root: Path):
        self.root = root
        config_path = next((root / n for n in ("data.yaml", "data.yml", "dataset.yaml") if (root / n).is_file()), None)
        if config_path is None:
            raise FormatError(f"{root} is not a YOLO dataset: it has no data.yaml")
        self.names = _read_names(config_path)
        self.labels = sorted((root / "labels").rglob("*.txt"))

    def class_names(self) -> list[str]:
        return list(self.names)

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self):
        for label_path in self.labels:
            relative = label_path.parent.relative_to(self.root / "labels")
            image_path = find_image(self.root / "images" / relative, label_path.stem)
            if image_path is None:
                yield FileProblem(label_path, f"no image {label_path.stem}.* in images/{relative.as_posix()}/")
                continue
            try:
                label = self._paint(label_path, image_size(image_path))
            except Exception as exc:  # noqa: BLE001 - one bad file is reported, the rest imports
                yield FileProblem(label_path, str(exc))
                continue
            split = SPLIT_ALIASES.get(relative.parts[0]) if relative.parts else None
            yield ImportSample(image_path, label, label_path, split)

    def _paint(self, path: Path, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        shapes = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                class_id, values = int(fields[0]), [float(v) for v in fields[1:]]
            except ValueError as exc:
                raise FormatError(f"line {number}: not numbers: {exc}") from exc
            if not 0 <= class_id < len(self.names):
                raise FormatError(f"line {number}: class {class_id} is not among the {len(self.names)} names in data.yaml")
            if len(values) == 4:
                xc, yc, w, h = values
                values = [xc - w / 2, yc - h / 2, xc + w / 2, yc - h / 2, xc + w / 2, yc + h / 2, xc - w / 2, yc + h / 2]
            if len(values) < 6 or len(values) % 2:
                raise FormatError(f"line {number}: expected a box or at least three x y pairs, got {len(values)} numbers")
            ring = np.array(values, dtype=np.float64).reshape(-1, 2) * (width, height)
            shapes.append(PolygonShape(class_id, ring))
        return paint_polygons(shape, shapes)


def _read_names(path: Path) -> list[str]:
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path} is not valid YAML: {exc}") from exc
    names = config.get("names") if isinstance(config, dict) else None
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except ValueError as exc:
            raise FormatError(f"{path}: names keys must be class numbers") from exc
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise FormatError(f"{path}: names must be numbered 0..N-1")
        return [v for _, v in ordered]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise FormatError(f"{path} has no class names (a `names:` list or mapping)")
