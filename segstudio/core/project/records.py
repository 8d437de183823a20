"""The plain values a project is made of: enums, records and the default class colours."""

from __future__ import annotations

import colorsys
from datetime import datetime, timezone
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from pathlib import Path

from segstudio.core.labels import IGNORE, IGNORE_16  # noqa: F401 - re-exported by segstudio.core.project


class Source(IntEnum):
    """Per-pixel provenance stored in sources/<id>.png (docs/architecture.md, "The project on disk")."""

    NONE = 0
    PROPOSAL = 1  # a model's proposal nobody has looked at yet
    ACCEPTED = 2  # a model's proposal a person accepted
    HUMAN = 3  # painted (or imported) by a person


class Status(str, Enum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class Split(str, Enum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"
    UNASSIGNED = "unassigned"

    def __str__(self) -> str:
        return self.value


RGB = tuple[int, int, int]


@dataclass(frozen=True)
class LabelClass:
    """A class; `id` is its pixel value in labels/ (ids are contiguous 0..N-1)."""

    id: int
    name: str
    color: RGB
    order: int


@dataclass(frozen=True)
class ImageRecord:
    id: int
    path: Path  # absolute
    rel_path: str  # as stored: relative to the project root when inside it
    name: str
    width: int
    height: int
    checksum: str
    status: Status
    split: Split
    uncertainty: float | None
    added_at: str
    updated_at: str
    proposed_by: str | None = None  # the model version that made its current proposal
    label_flag: str | None = None  # why its labels look wrong; left out of training until confirmed


@dataclass(frozen=True)
class ModelRecord:
    version: str
    arch: str
    path: Path
    created_at: str
    metrics: dict
    is_best: bool
    kind: str = "network"  # "network", "instant" for a pixel classifier, "hybrid" for one reading a network
    pinned: bool = False  # a person chose it: it proposes whatever the scores
    best_rank: int | None = None  # n-th model to beat the best before it; None: never the best

    @property
    def miou(self) -> float | None:
        value = self.metrics.get("val_miou")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def images_seen(self) -> int | None:
        """Images it learnt from: a network's training images, an instant classifier's reviewed ones."""
        value = self.metrics.get("train_images", self.metrics.get("images"))
        return int(value) if isinstance(value, (int, float)) else None


@dataclass
class AddReport:
    """What `add_images` did: nothing is dropped silently."""

    added: list[ImageRecord] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self, named: int = 3) -> str:
        """'10 added, 0 duplicates skipped, 1 failed: x.tif (cannot decode ...)': failures named."""
        text = f"{len(self.added)} added, {len(self.duplicates)} duplicates skipped, {len(self.failed)} failed"
        if self.failed and named:
            shown = "; ".join(f"{Path(path).name} ({reason})" for path, reason in self.failed[:named])
            more = f"; and {len(self.failed) - named} more" if len(self.failed) > named else ""
            text += f": {shown}{more}"
        return text


# Distinct colours (Sasha Trubetskoy's list); the first class is usually background: dark grey.
_PALETTE: tuple[RGB, ...] = (
    (64, 64, 64), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
    (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0),
    (255, 215, 180), (0, 0, 128),
)


def default_color(index: int) -> RGB:
    """A colour for the index-th class: the palette first, then golden-ratio hues."""
    if index < len(_PALETTE):
        return _PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def color_to_hex(color: RGB) -> str:
    r, g, b = (int(c) for c in color)
    for channel in (r, g, b):
        if not 0 <= channel <= 255:
            raise ValueError(f"colour channel {channel} is outside 0..255")
    return f"#{r:02x}{g:02x}{b:02x}"


def hex_to_color(text: str) -> RGB:
    text = text.lstrip("#")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


def now() -> str:
    """UTC time stamp as stored in the database."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
