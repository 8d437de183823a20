"""The dataset card (README.md in every export): what is in it and where it came from."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from segstudio.core.formats.base import ExportClass

SPLITS = ("train", "val", "test")
PROVENANCE = ((3, "painted by a person (human)"), (2, "model proposal accepted by a person"),
              (1, "model proposal nobody reviewed (unreviewed)"))


@dataclass
class DatasetStats:
    """Pixel and image counts per class and split, and pixel provenance, of what was exported."""

    classes: list[ExportClass]
    images: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pixels: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    class_images: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    provenance: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.int64))
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, label: np.ndarray, source: np.ndarray, split: str, ignore: int) -> None:
        """Count one exported image (`source` is the stored provenance, before any rule)."""
        self.images[split] += 1
        counts = np.bincount(label.ravel(), minlength=len(self.classes))
        for cls in self.classes:
            if cls.id != ignore and counts[cls.id]:
                self.pixels[cls.id, split] += int(counts[cls.id])
                self.class_images[cls.id, split] += 1
        self.provenance += np.bincount(source.ravel(), minlength=4)[:4]


def render_card(*, project_name: str, format_title: str, stats: DatasetStats, model_version: str | None,
                date: str, settings: dict[str, object], notes: list[str], version: str) -> str:
    splits = [s for s in SPLITS if stats.images.get(s)]
    lines = [f"# {project_name}: {format_title} export", "",
             f"Exported by SegStudio {version} on {date} (UTC).", "",
             "## Images", "", "| split | images |", "|---|---|"]
    lines += [f"| {s} | {stats.images[s]} |" for s in splits]
    lines += [f"| total | {sum(stats.images.values())} |", ""]
    if stats.skipped:
        lines += [f"{len(stats.skipped)} images were left out because nothing in them is labelled "
                  "(after the unreviewed-pixel rule below).", ""]
    lines += ["## Classes", "", "Pixels and images (that hold the class) per split.", "",
              "| id | name | colour | " + " | ".join(f"pixels {s}" for s in splits) + " | "
              + " | ".join(f"images {s}" for s in splits) + " |",
              "|---|---|---|" + "---|" * (2 * len(splits))]
    for cls in stats.classes:
        pixels = " | ".join(str(stats.pixels.get((cls.id, s), 0)) for s in splits)
        images = " | ".join(str(stats.class_images.get((cls.id, s), 0)) for s in splits)
        lines.append(f"| {cls.id} | {cls.name} | #{cls.color[0]:02x}{cls.color[1]:02x}{cls.color[2]:02x} | {pixels} | {images} |")
    total = int(stats.provenance[1:].sum()) or 1
    lines += ["", "## Provenance", "", "Where the labelled pixels of these images came from.", "",
              "| source | pixels | share |", "|---|---|---|"]
    for value, text in PROVENANCE:
        count = int(stats.provenance[value])
        lines.append(f"| {text} | {count} | {100 * count / total:.1f}% |")
    lines += ["", f"Model that proposed labels: {model_version or 'none (no model registered)'}.", "",
              "## Settings", ""]
    lines += [f"- {key}: {value}" for key, value in settings.items()]
    lines += ["", "## Format notes", ""] + [f"- {note}" for note in notes]
    lines += ["- Importers of SegStudio resolve overlapping shapes by area: the smaller shape wins.", ""]
    return "\n".join(lines)
