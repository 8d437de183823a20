"""Plain masks: images/, masks/ (class-index PNGs) and classes.json.

Masks are uint8 PNGs (uint16 when the classes do not fit in 0..254) with 255 (65535) for
unlabelled pixels; classes.json lists ids, names and colours and the ignore value. classes.txt
(one name a line, line number = id) and splits/<split>.txt are written too: classes.txt is the
layout `segstudio bench hitl` reads. The importer takes classes.json or, failing that,
classes.txt, and pairs masks/<stem>.png with images/<stem>.<any image suffix>.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import (
    ExportContext, ExportSample, IndexMaskReader, find_image, place_image, write_png, write_text,
)
from segstudio.core.formats.safety import load_json
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
            raise FormatError(f"{root} is not a plain-masks dataset: it has no masks/ folder")
        self.names, self.ignore = _read_classes(root)
        self.masks = sorted((root / "masks").glob("*.png"))
        self.splits: dict[str, str] = {}
        for split in ("train", "val", "test"):
            path = root / "splits" / f"{split}.txt"
            if path.is_file():
                self.splits.update((line, split) for line in path.read_text(encoding="utf-8").split())

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        image = find_image(self.root / "images", mask_path.stem)
        return image, "no image with this name in images/", self.splits.get(mask_path.stem)


def _read_classes(root: Path) -> tuple[list[str], int]:
    json_path, txt_path = root / "classes.json", root / "classes.txt"
    if json_path.is_file():
        document = load_json(json_path)
        try:
            entries = sorted(document["classes"], key=lambda c: int(c["id"]))
            names = [str(c["name"]) for c in entries]
            if [int(c["id"]) for c in entries] != list(range(len(entries))):
                raise FormatError(f"{json_path}: class ids must be 0..N-1")
            return names, int(document.get("ignore", ignore_for(len(names))))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{json_path}: expected {{'classes': [{{'id', 'name'}}, ...]}}: {exc}") from exc
    if txt_path.is_file():
        names = [line.strip() for line in txt_path.read_text(encoding="utf-8").splitlines()]
        while names and not names[-1]:
            names.pop()
        if "" in names:
            raise FormatError(f"{txt_path}: line {names.index('') + 1} is empty; every line names the class with that id")
        if names:
            return names, ignore_for(len(names))
    raise FormatError(f"{root} has neither classes.json nor classes.txt naming its classes")
