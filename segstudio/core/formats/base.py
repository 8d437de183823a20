"""What exporters and importers exchange with the export/import drivers.

An exporter is a writer class: built on an empty folder with the class list, it receives one
`ExportSample` per image and writes the per-split files in `finish()`. An importer is a reader
class: built on a dataset folder, it names its classes (cheap: used for the mapping preview),
then yields one `ImportSample` per image or a `FileProblem` for a file it cannot use. Label
maps from readers are int32 with -1 where nothing is labelled, in the dataset's own class ids.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from segstudio.core.errors import FormatError, SaveError

UNLABELLED = -1
"""Label value in reader output where the dataset labels nothing."""

DATASET_META = "dataset_meta.json"
"""datumaro's file naming a dataset's classes (and their colours)."""


@dataclass(frozen=True)
class ExportClass:
    id: int
    name: str
    color: tuple[int, int, int]


@dataclass(frozen=True)
class ExportSample:
    """One image ready to write: `label` already has the unreviewed-pixel rule applied."""

    name: str  # unique, file-name safe stem
    image_path: Path
    label: np.ndarray  # (H, W) uint8 or uint16 class ids, `ignore` where unlabelled
    split: str  # train, val or test
    ignore: int
    group: str = "default"  # a sub-folder name: the image's own folder (Cityscapes' "city")


@dataclass
class ExportContext:
    """The settings every writer needs."""

    root: Path
    classes: list[ExportClass]
    link_images: bool = False
    lossless_images: bool = False


class DatasetWriter(Protocol):
    def __init__(self, context: ExportContext) -> None: ...
    def add(self, sample: ExportSample) -> None: ...
    def finish(self) -> list[str]:
        """Write the remaining files; return notes for the dataset card."""


@dataclass(frozen=True)
class ImportSample:
    image_path: Path
    label: np.ndarray  # (H, W) int32 dataset class ids, UNLABELLED where nothing is labelled
    annotation: Path  # the file the labels came from (for reports)
    split: str | None = None
    embedded_image: bytes | None = None  # labelme imageData when the image file is missing
    embedded_suffix: str = ".png"


@dataclass(frozen=True)
class FileProblem:
    """A file that was not imported, and why (the rest of the dataset still imports)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class DatasetReader(Protocol):
    def __init__(self, root: Path) -> None: ...
    def class_names(self) -> list[str]:
        """Names of the dataset's classes, indexed by the ids its label maps use."""
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[ImportSample | FileProblem]: ...


# ----------------------------------------------------------------------------- helpers
_UNSAFE = re.compile(r"[^\w.-]+")


def safe_stem(text: str) -> str:
    """A file-name stem that every format can hold (no spaces, separators or control chars)."""
    stem = _UNSAFE.sub("_", text).strip("._") or "image"
    return stem[:120]


def place_image(source: Path, target: Path, link: bool) -> str:
    """Copy an image, or link it (hard link, then symbolic link, then copy). Returns how."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if link:
            try:
                os.link(source, target)
                return "hardlink"
            except OSError:
                try:
                    os.symlink(source.resolve(), target)
                    return "symlink"
                except OSError:
                    pass
        shutil.copyfile(source, target)
        return "copy"
    except OSError as exc:
        raise SaveError(f"could not write {target}: {exc.strerror or exc}") from exc


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write one file of an export. Exports are written into a staging folder that is renamed
    into place as a whole, so files here skip the per-file fsync of segstudio.core.atomic: one
    batched fsync of the staging folder's own files before the rename makes the export durable
    (export.fsync_tree; an fsync after each file made a 1,000-image VOC export four times slower)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise SaveError(f"could not write {path}: {exc.strerror or exc}") from exc


def write_text(path: Path | str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_png(path: Path | str, array: np.ndarray, palette: list[int] | None = None) -> None:
    """An RGB, palette or class-index (8- or 16-bit grey) PNG."""
    from segstudio.core.atomic import encode_png

    write_bytes(path, encode_png(array, palette))


def find_image(folder: Path, stem: str, root: Path) -> Path | None:
    """The image file in `folder` called `stem` with any image suffix, if it lies inside the
    dataset folder `root` (a link that leads outside does not count)."""
    from segstudio.core.formats.safety import dataset_file
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    for suffix in sorted(IMAGE_EXTENSIONS):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if dataset_file(root, candidate) is not None:
                return candidate
    return None


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image as the project will store it (header read only)."""
    from segstudio.core.imageio import probe_image

    info = probe_image(path)
    return info.height, info.width


def check_size(array: np.ndarray, image_path: Path) -> None:
    """Refuse a mask whose size differs from its image's."""
    height, width = image_size(image_path)
    if array.shape[:2] != (height, width):
        raise FormatError(f"mask is {array.shape[1]}x{array.shape[0]} but its image "
                          f"{image_path.name} is {width}x{height}")


def read_index_png(path: Path, colors: dict[tuple[int, int, int], int] | None = None) -> np.ndarray:
    """A class-index PNG as a 2-D array. Palette indices stay indices; a colour PNG is read
    through `colors` (colour -> index) when given, and refused otherwise."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("RGB", "RGBA") and colors is not None:
                return _unpaint(np.array(image.convert("RGB")), colors, path)
            if image.mode not in ("P", "L", "I;16", "I;16B", "I;16L", "I", "1"):
                raise FormatError(f"{path.name} is a {image.mode} image; expected a class-index PNG")
            array = np.array(image)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise FormatError(f"cannot read mask {path.name}: {exc}") from exc
    return array.astype(np.int64)


def _unpaint(rgb: np.ndarray, colors: dict[tuple[int, int, int], int], path: Path) -> np.ndarray:
    keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    found, inverse = np.unique(keys, return_inverse=True)
    table = {(r << 16) | (g << 8) | b: index for (r, g, b), index in colors.items()}
    unknown = [f"#{int(k):06x}" for k in found if int(k) not in table]
    if unknown:
        raise FormatError(f"{path.name} has colours {unknown[:5]} that no class of the dataset uses")
    return np.array([table[int(k)] for k in found], dtype=np.int64)[inverse].reshape(keys.shape)


def index_to_label(array: np.ndarray, num_classes: int, ignore: int | None) -> np.ndarray:
    """Class-index pixels -> reader label (int32, UNLABELLED at `ignore`); unknown ids refused."""
    label = array.astype(np.int32)
    if ignore is not None:
        label[array == ignore] = UNLABELLED
    bad = (label >= num_classes) | (label < UNLABELLED)
    if bad.any():
        ids = sorted(set(np.unique(label[bad]).tolist()))[:10]
        raise FormatError(f"holds class ids {ids} that the dataset's {num_classes} classes do not define")
    return label


class IndexMaskReader:
    """Shared reader for formats that store one class-index PNG per image (VOC, Cityscapes, masks).

    Subclasses set `root`, `names`, `ignore` and `masks` and say where each mask's image is.
    """

    root: Path
    names: list[str]
    ignore: int
    masks: list[Path]
    colors: dict[tuple[int, int, int], int] | None = None  # for masks saved as colour images

    def locate(self, mask_path: Path) -> tuple[Path | None, str, str | None]:
        """(image path or None, why it is missing, split or None) for one mask file."""
        raise NotImplementedError

    def class_names(self) -> list[str]:
        return list(self.names)

    def read_mask(self, mask_path: Path) -> np.ndarray:
        """The mask's class ids (a format whose files encode more than ids converts them here)."""
        return read_index_png(mask_path, self.colors)

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[ImportSample | FileProblem]:
        for mask_path in self.masks:
            image_path, missing, split = self.locate(mask_path)
            if image_path is None:
                yield FileProblem(mask_path, missing)
                continue
            try:
                array = self.read_mask(mask_path)
                check_size(array, image_path)
                label = index_to_label(array, len(self.names), self.ignore)
            except Exception as exc:  # noqa: BLE001 - one bad file is reported, the rest imports
                yield FileProblem(mask_path, str(exc) if isinstance(exc, FormatError) else type(exc).__name__)
                continue
            yield ImportSample(image_path, label, mask_path, split)


def read_dataset_meta(root: Path, path: Path) -> list[str] | None:
    """Class names from datumaro's dataset_meta.json (`labels`, or `label_map` id -> name)."""
    if not path.is_file():
        return None
    from segstudio.core.formats.safety import dataset_file, load_json

    if dataset_file(root, path) is None:
        raise FormatError(f"{path} is not a regular file inside the dataset folder; refused")
    meta = load_json(path)
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if isinstance(labels, list) and labels:
        return [str(name) for name in labels]
    label_map = meta.get("label_map") if isinstance(meta, dict) else None
    if isinstance(label_map, dict) and label_map:
        try:
            ordered = sorted((int(k), str(v)) for k, v in label_map.items())
        except (TypeError, ValueError):
            raise FormatError(f"{path}: label_map keys must be class numbers") from None
        if [k for k, _ in ordered] == list(range(len(ordered))):
            return [name for _, name in ordered]
    raise FormatError(f"{path} names no classes (a labels list or a label_map numbered 0..N-1)")
