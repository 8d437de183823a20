"""Disk-backed training data: each reviewed image's pixels, targets and class anchors as .npy
files under <project>/cache/training, read one window at a time through short-lived memory maps.

Why: a round used to hold every reviewed image in RAM at 8 bytes per pixel (32 GB for 1,000
reviewed 2048 x 2048 images). Here memory holds a small record per image; a patch maps its
image's files, copies one window and drops the map, so the pages stay in the OS page cache,
not in the trainer. Entries are keyed by the stat of the image file and of the label and
source PNGs. Which images to look at comes from the project's annotation change counter
(Project.annotation_changes: the ids changed since the last look), so between two training
steps only those few are stat-ed and rebuilt; a full look (`refresh()` without ids) happens
once per round. Entries survive between runs; the folder can be deleted at any time (it is
rebuilt). Files are replaced atomically, never fsynced: a cache.

The disk is bounded too: past `max_bytes` the files of the least recently used entries are
deleted (their small record stays); `ensure(image)` rebuilds an entry's files before a patch
of it is read (the sampler calls it when it plans the patch, in the training process), so a
project larger than the bound trains with some decoding instead of an ever-growing folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segstudio.core.atomic import link_kind
from segstudio.core.errors import SegStudioError
from segstudio.core.project import Status
from segstudio.core.training.dataset import ACCEPTED, HUMAN, IGNORE, is_reviewed, reviewed_target

CACHE_FOLDER = Path("cache") / "training"
INDEX_FILE = "index.json"
ANCHORS_PER_CLASS = 1024  # crop centres kept per class and image: enough to find a rare class's pixels
PARTS = ("raw", "target", "weight", "anchors")
CORRECTION = 2  # weight code of a pixel a person painted over a proposal (1 elsewhere, 0 outside the image)
ACCEPTED_CODE = 3  # weight code of a proposal pixel a person accepted (weight 1; validation reads it)
FORMAT = 2  # of the files and index: an index of another format is rebuilt (format 1 had no ACCEPTED_CODE)


@dataclass
class CachedImage:
    """One reviewed image on disk. Picklable and small: DataLoader workers get it in each plan."""

    image_id: int
    folder: Path
    shape: tuple[int, int]
    class_counts: tuple[int, ...]  # reviewed pixels per class id
    key: str = ""
    updated: float = field(default=0.0, compare=False)  # time.monotonic() of the last (re)build
    nbytes: int = field(default=0, compare=False)  # size of its files when on disk
    resident: bool = field(default=True, compare=False)  # False: files evicted, ensure() rebuilds them
    used: int = field(default=0, compare=False)  # the cache's clock when last planned (eviction order)

    def part(self, name: str) -> np.ndarray:
        """A read-only memory map of one array (`raw` H x W x C, `target` H x W uint8 with
        IGNORE where unreviewed, `weight` H x W uint8 code, `anchors` K x 3 int32 y, x, class)."""
        return np.load(self.folder / f"{self.image_id}-{name}.npy", mmap_mode="r")

    # ReviewedImage's reading side, so validation reads cached images as it reads loaded ones
    @property
    def raw(self) -> np.ndarray:
        return self.part("raw")

    @property
    def target(self) -> np.ndarray:
        return self.part("target")

    @property
    def labelled_pixels(self) -> int:
        return int(sum(self.class_counts))


class OnDisk:
    """A cached image whose files are brought back (TrainingCache.ensure) whenever it is read:
    what validation and the label check get, since the bound may have evicted any entry."""

    def __init__(self, cache: TrainingCache, image: CachedImage):
        self.cache, self.image = cache, image
        self.image_id, self.shape, self.class_counts, self.key = image.image_id, image.shape, image.class_counts, image.key

    @property
    def raw(self) -> np.ndarray:
        return self.cache.ensure(self.image).raw

    @property
    def target(self) -> np.ndarray:
        return self.cache.ensure(self.image).target

    @property
    def labelled_pixels(self) -> int:
        return self.image.labelled_pixels

    @property
    def accepted(self) -> np.ndarray:
        """H x W bool: the pixels a person accepted from a proposal (validation's judged target)."""
        return np.asarray(self.cache.ensure(self.image).part("weight")) == ACCEPTED_CODE


def weight_codes(source: np.ndarray) -> np.ndarray:
    """1 per pixel, CORRECTION where a person painted over a proposal (the correction rule of
    dataset.correction_weights, kept as a code so the weight itself can change per run),
    ACCEPTED_CODE where they accepted a proposal."""
    codes = np.ones(source.shape, np.uint8)
    if ((source == 1) | (source == ACCEPTED)).any():
        codes[source == HUMAN] = CORRECTION
    codes[source == ACCEPTED] = ACCEPTED_CODE
    return codes


def class_anchors(target: np.ndarray, num_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """(K x 3 int32 [y, x, class], pixels per class): up to ANCHORS_PER_CLASS pixels of each class."""
    counts = np.bincount(target[target != IGNORE].ravel(), minlength=num_classes)[:num_classes]
    rows = []
    for class_id in np.flatnonzero(counts):
        ys, xs = np.nonzero(target == class_id)
        if len(ys) > ANCHORS_PER_CLASS:
            keep = rng.choice(len(ys), ANCHORS_PER_CLASS, replace=False)
            ys, xs = ys[keep], xs[keep]
        rows.append(np.stack([ys, xs, np.full(len(ys), class_id)], axis=1))
    anchors = np.concatenate(rows).astype(np.int32) if rows else np.zeros((0, 3), np.int32)
    return anchors, [int(c) for c in counts]


class TrainingCache:
    """The reviewed images of a project, cached on disk; `refresh()` finds what changed."""

    def __init__(self, project, in_channels: int, *, seed: int = 0, max_bytes: int | None = None,
                 keep_recent: int = 64):
        self.seed = seed
        self.max_bytes = max_bytes  # None: unbounded
        self.keep_recent = keep_recent  # entries planned this recently are never evicted (batches in flight)
        self.clock = 0
        self.project = project
        self.in_channels = in_channels
        self.num_classes = project.num_classes
        self.folder = Path(project.root) / CACHE_FOLDER
        self.entries: dict[int, CachedImage] = {}
        self.known: dict[int, str] = {}  # image id -> key of images looked at and found unreviewed
        self._load_index()

    # ------------------------------------------------------------------ keys
    def _key(self, record) -> str | None:
        """Stat-based key of an image's pixels and masks; None when it has no masks."""
        parts = [str(self.in_channels), str(self.num_classes)]
        for path in (record.path, self.project.labels_dir / f"{record.id}.png",
                     self.project.sources_dir / f"{record.id}.png"):
            try:
                stat = os.stat(path)
            except OSError:
                return None
            parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
        return "|".join(parts)

    # --------------------------------------------------------------- refresh
    def refresh(self, image_ids: list[int] | None = None) -> list[int]:
        """Bring the cache up to date with the project; returns ids of images (re)built.

        Without `image_ids` every image is looked at (once per round); with them only those
        (the ids Project.annotation_changes reports). Images still NEW hold no reviewed pixel
        and skipped images do not train: neither is looked at, so the cost is one database
        query and a few stat calls per image looked at.
        """
        from segstudio.core.errors import ProjectError

        if image_ids is None:
            records = self.project.images(order="added")
            looked = None
        else:
            records = []
            for image_id in dict.fromkeys(image_ids):
                try:
                    records.append(self.project.image(image_id))
                except ProjectError:  # removed since
                    pass
            looked = set(image_ids)
        current: dict[int, str] = {}
        for record in records:
            if record.status in (Status.NEW, Status.SKIPPED):
                continue
            key = self._key(record)
            if key is not None:
                current[record.id] = key
        changed = []
        for image_id, key in current.items():
            entry = self.entries.get(image_id)
            if (entry is not None and entry.key == key) or self.known.get(image_id) == key:
                continue
            if self._build(image_id, key):
                changed.append(image_id)
        scope = self.entries if looked is None else [i for i in self.entries if i in looked]
        for image_id in [i for i in scope if i not in current]:
            self._drop(image_id)
        self.known = {i: k for i, k in self.known.items() if i in current or (looked is not None and i not in looked)}
        self._enforce_bound()
        if changed or len(self.entries) != len(self._saved_ids) or self._index_dirty:
            self._save_index()
        return changed

    # ------------------------------------------------------------- the bound
    @property
    def resident_bytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries.values() if entry.resident)

    def ensure(self, image: CachedImage) -> CachedImage:
        """The entry with its files on disk (rebuilt from the project when evicted), marked as
        just used. Called in the training process when a patch of it is planned."""
        self.clock += 1
        entry = self.entries.get(image.image_id, image)
        entry.used = image.used = self.clock
        if not entry.resident:
            record = self.project.image(entry.image_id)
            key = self._key(record)
            if key is None or not self._build(entry.image_id, key):
                raise SegStudioError(f"image {entry.image_id} lost its reviewed pixels while training")
            entry = self.entries[entry.image_id]
            entry.used = self.clock
            image.resident = True
            self._enforce_bound()
        return entry

    def _enforce_bound(self) -> None:
        """Evict the least recently used files until the resident bytes fit `max_bytes` (never
        the `keep_recent` most recently planned entries, whose patches may still be loading)."""
        if self.max_bytes is None:
            return
        resident = sorted((e for e in self.entries.values() if e.resident), key=lambda e: (e.used, e.updated))
        total = sum(entry.nbytes for entry in resident)
        evictable = resident[:max(0, len(resident) - self.keep_recent)]
        for entry in evictable:
            if total <= self.max_bytes:
                break
            for name in PARTS:
                (self.folder / f"{entry.image_id}-{name}.npy").unlink(missing_ok=True)
            entry.resident = False
            total -= entry.nbytes
            self._index_dirty = True

    def reviewed(self) -> list[CachedImage]:
        """Every cached image, by id."""
        return [self.entries[i] for i in sorted(self.entries)]

    def readable(self, images) -> list[OnDisk]:
        """The images as OnDisk views: their files come back whenever they are read."""
        return [OnDisk(self, image) for image in images]

    def _build(self, image_id: int, key: str) -> bool:
        from segstudio.core.imageio import read_image
        from segstudio.core.inference import match_channels

        source = self.project.read_source(image_id)
        if not is_reviewed(source):
            self._drop(image_id)
            self.known[image_id] = key
            return False
        target = reviewed_target(self.project.read_label(image_id), source)
        raw = match_channels(read_image(self.project.image(image_id).path).raw, self.in_channels)
        if raw.shape[:2] != target.shape:
            raise SegStudioError(f"image {image_id}: pixels are {raw.shape[1]} x {raw.shape[0]} but its masks "
                                 f"{target.shape[1]} x {target.shape[0]}")
        anchors, counts = class_anchors(target, self.num_classes, np.random.default_rng([self.seed, image_id]))
        self._make_folder()
        nbytes = 0
        for name, array in (("raw", np.ascontiguousarray(raw)), ("target", target),
                            ("weight", weight_codes(source)), ("anchors", anchors)):
            nbytes += _save_npy(self.folder / f"{image_id}-{name}.npy", array)
        self.clock += 1
        self.entries[image_id] = CachedImage(image_id, self.folder, target.shape, tuple(counts), key, time.monotonic(),
                                             nbytes, True, self.clock)
        self.known.pop(image_id, None)
        return True

    def _drop(self, image_id: int) -> None:
        self.entries.pop(image_id, None)
        for name in PARTS:
            (self.folder / f"{image_id}-{name}.npy").unlink(missing_ok=True)

    # ----------------------------------------------------------------- index
    def _load_index(self) -> None:
        self._saved_ids: set[int] = set()
        self._index_dirty = False
        try:
            data = json.loads((self.folder / INDEX_FILE).read_text(encoding="utf-8"))
            if (data.get("format", 1) != FORMAT or data.get("in_channels") != self.in_channels
                    or data.get("num_classes") != self.num_classes):
                return
            for item in data["images"]:
                entry = CachedImage(int(item["id"]), self.folder, tuple(item["shape"]), tuple(item["counts"]),
                                    str(item["key"]), nbytes=int(item.get("bytes", 0)))
                entry.resident = all((self.folder / f"{entry.image_id}-{name}.npy").is_file() for name in PARTS)
                if entry.resident and not entry.nbytes:  # an index written before the bound existed
                    entry.nbytes = sum((self.folder / f"{entry.image_id}-{name}.npy").stat().st_size for name in PARTS)
                if entry.resident or entry.nbytes:  # an evicted entry keeps its record; ensure() rebuilds it
                    self.entries[entry.image_id] = entry
            self.known = {int(k): str(v) for k, v in data.get("unreviewed", {}).items()}
        except (OSError, ValueError, KeyError, TypeError):
            self.entries, self.known = {}, {}  # no usable index: everything is rebuilt
        self._saved_ids = set(self.entries)

    def _save_index(self) -> None:
        data = {"format": FORMAT, "in_channels": self.in_channels, "num_classes": self.num_classes,
                "images": [{"id": e.image_id, "shape": list(e.shape), "counts": list(e.class_counts), "key": e.key,
                            "bytes": e.nbytes} for e in self.reviewed()],
                "unreviewed": {str(k): v for k, v in self.known.items()}}
        self._make_folder()
        _replace(self.folder / INDEX_FILE, json.dumps(data).encode())
        self._saved_ids = set(self.entries)
        self._index_dirty = False

    def _make_folder(self) -> None:
        """cache/training inside the project; never written through a link (a shared project
        could point it anywhere)."""
        for path in (self.folder.parent, self.folder):
            if link_kind(path) not in (None, "folder"):
                raise SegStudioError(f"{path} is a {link_kind(path)}, not a folder: SegStudio writes nothing through "
                                     "links; remove it (it is a cache) and train again")
        self.folder.mkdir(parents=True, exist_ok=True)


def _temporary(path: Path) -> Path:
    """A temporary name of this process's own: under torchrun every rank fills the same cache."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _save_npy(path: Path, array: np.ndarray) -> int:
    """Write one array; returns the bytes written."""
    tmp = _temporary(path)
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        size = handle.tell()
    os.replace(tmp, path)
    return size


def _replace(path: Path, data: bytes) -> None:
    tmp = _temporary(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
