"""Plain masks: images/, masks/ (class-index PNGs) and classes.json.

Masks are uint8 PNGs (uint16 when the classes do not fit in 0..254) with 255 (65535) for
unlabelled pixels; classes.json lists ids, names and colours and the ignore value. classes.txt
(one name a line, line number = id) and splits/<split>.txt are written too: classes.txt is the
layout `segstudio bench hitl` reads. The importer takes classes.json, else classes.txt, else
datumaro's dataset_meta.json (its common_semantic_segmentation layout, whose masks may be colour
images in the meta file's segmentation_colors), and pairs masks/<stem>.png with
images/<stem>.<any image suffix>.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    DATASET_META, ExportContext, ExportSample, IndexMaskReader, find_image, place_image, read_dataset_meta,
    write_png, write_text,
)
from segstudio.core.formats.safety import dataset_files, dataset_text, load_json
from segstudio.core.labels import ignore_for


class MasksWriter:
    def __init__(self, context: ExportContext):
        self.context = context
        self.splits: dict[str, list[str]] = defaultdict(list)

    def add(self, sample: ExportSample) -> None:
        root = self.context.root
        place_image(sample.image_path, root / "images" / f"{sample.name}{sample.image_path.suffix.lower()}",
                    self.context.link_images)
        write_png(root / "masks" / f"{sample.name}.png", sample.label)
        self.splits[sample.split].append(sample.name)

    def finish(self) -> list[str]:
        root = self.context.root
        classes = self.context.classes
        ignore = ignore_for(len(classes))
        document = {"classes": [{"id": c.id, "name": c.name, "color": list(c.color)} for c in classes],
                    "ignore": ignore}
        write_text(root / "classes.json", json.dumps(document, indent=2, ensure_ascii=False))
        write_text(root / "classes.txt", "".join(f"{c.name}\n" for c in classes))
        for split, names in self.splits.items():
            write_text(root / "splits" / f"{split}.txt", "".join(f"{n}\n" for n in names))
        bits = 8 if ignore == 255 else 16
        return [f"Masks: masks/*.png, {bits}-bit class ids, {ignore} = unlabelled; classes in classes.json "
                "and classes.txt (line number = id); split lists in splits/."]


class MasksReader(IndexMaskReader):
    def __init__(self, root: Path):
        self.root = root
        if not (root / "masks").is_dir():
            raise FormatError(f"{root} is not a plain-masks dataset: expected masks/ (class-index PNGs), "
                              "images/ and classes.json, classes.txt or dataset_meta.json; it has no masks/ folder")
        self.names, self.ignore = _read_classes(root)
        self.colors = _meta_colors(root / DATASET_META) if self.ignore is None else None
        self.masks = dataset_files(root, root / "masks", "*.png")
        if not self.masks:
            raise FormatError(f"{root} is not a plain-masks dataset SegStudio can read: expected "
                              "masks/<name>.png class-index masks; found none")
        self.splits: dict[str, str] = {}
        for split in ("train", "val", "test"):
            text = dataset_text(root, root / "splits" / f"{split}.txt")
            if text is not None:
                self.splits.update((line, split) for line in text.split())

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        image = find_image(self.root / "images", mask_path.stem, self.root)
        return image, "no image with this name in images/", self.splits.get(mask_path.stem)


def _read_classes(root: Path) -> tuple[list[str], int | None]:
    json_path, txt_path = root / "classes.json", root / "classes.txt"
    if dataset_text(root, json_path) is not None:
        document = load_json(json_path)
        try:
            entries = sorted(document["classes"], key=lambda c: int(c["id"]))
            names = [str(c["name"]) for c in entries]
            if [int(c["id"]) for c in entries] != list(range(len(entries))):
                raise FormatError(f"{json_path}: class ids must be 0..N-1")
            return names, int(document.get("ignore", ignore_for(len(names))))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{json_path}: expected {{'classes': [{{'id', 'name'}}, ...]}}: {exc}") from exc
    if (text := dataset_text(root, txt_path)) is not None:
        names = [line.strip() for line in text.splitlines()]
        while names and not names[-1]:
            names.pop()
        if "" in names:
            raise FormatError(f"{txt_path}: line {names.index('') + 1} is empty; every line names the class with that id")
        if names:
            return names, ignore_for(len(names))
    names = read_dataset_meta(root, root / DATASET_META)
    if names:
        return names, None  # datumaro's masks have no ignore value: every colour is a class
    raise FormatError(f"{root} has no classes.json, classes.txt or dataset_meta.json naming its classes")


def _meta_colors(path: Path) -> dict[tuple[int, int, int], int] | None:
    """Colour -> class id from dataset_meta.json's segmentation_colors (for colour masks)."""
    colors = load_json(path).get("segmentation_colors") or []
    try:
        return {tuple(int(v) for v in color): index for index, color in enumerate(colors) if color}
    except (TypeError, ValueError):
        raise FormatError(f"{path}: segmentation_colors must be [r, g, b] lists") from None
