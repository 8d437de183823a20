"""Per-image class histograms in the database, written with the masks (issue 15).

A mixin of `Project` (segstudio.core.project.store). `segstudio info` and the question "remove
this class? it labels N pixels in M images" used to decode every label map; now they sum the
table `class_pixels` (image_id, class_id, pixels; class_id -1 counts unlabelled pixels).

The rule that keeps the table true: a mask write first marks the image uncounted, writes the
files, then stores the histogram and marks it counted, so a crash in between leaves the image
uncounted, never counted wrong. Uncounted images (those of a project made before schema 3, or
cut off by a crash) are counted from their files when first asked (`backfill_histograms`);
a read-only project counts them without storing. Class removal moves the rows in the same
transaction that changes the class list (class_removal._finish, `shift_histograms`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

UNLABELLED = -1  # class_id of the unlabelled pixels' count
_SHIFT = 1 << 40  # moves ids out of the way while they are renumbered (no transient key clash)


def histogram(label: np.ndarray, ignore: int) -> dict[int, int]:
    """{class id: pixels} of a label map, unlabelled pixels under UNLABELLED; zero counts left out."""
    counts = np.bincount(label.ravel(), minlength=1)
    return {(UNLABELLED if value == ignore else int(value)): int(n) for value, n in enumerate(counts) if n}


class HistogramsMixin:
    def _mark_uncounted(self, image_id: int) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE images SET counted = 0 WHERE id = ?", (image_id,))

    def _store_histogram(self, conn: sqlite3.Connection, image_id: int, counts: dict[int, int]) -> None:
        """Inside the caller's transaction: this image's histogram is `counts` ({} when it has no masks)."""
        conn.execute("DELETE FROM class_pixels WHERE image_id = ?", (image_id,))
        conn.executemany("INSERT INTO class_pixels (image_id, class_id, pixels) VALUES (?, ?, ?)",
                         [(image_id, class_id, n) for class_id, n in counts.items()])
        conn.execute("UPDATE images SET counted = 1 WHERE id = ?", (image_id,))

    def forget_histogram(self, image_id: int) -> None:
        """The image has no masks any more (set aside, say): nothing counted for it."""
        if not self.readonly:
            with self._tx() as conn:
                self._store_histogram(conn, image_id, {})

    def _uncounted(self) -> Iterator[tuple[int, dict[int, int]]]:
        """(image id, histogram) of every uncounted image, read from its files."""
        ignore = self.ignore_value
        for (image_id,) in self._query("SELECT id FROM images WHERE counted = 0 ORDER BY id"):
            yield image_id, histogram(self.read_label(image_id), ignore) if self.has_masks(image_id) else {}

    def backfill_histograms(self) -> int:
        """Count the images not counted yet, from their files (stored unless read-only); how many."""
        if self.readonly:
            return 0
        done = 0
        with self._masks_mutex:
            pending = list(self._uncounted())
            for start in range(0, len(pending), 1000):
                with self._tx() as conn:
                    for image_id, counts in pending[start:start + 1000]:
                        self._store_histogram(conn, image_id, counts)
                done += len(pending[start:start + 1000])
        return done

    def class_pixel_totals(self) -> tuple[dict[int, int], dict[int, int]]:
        """({class id: labelled pixels}, {class id: images holding any}) over the project, from the
        database; UNLABELLED counts unlabelled pixels of images that have masks."""
        self.backfill_histograms()
        pixels: dict[int, int] = {}
        images: dict[int, int] = {}
        rows = self._query("SELECT class_id, SUM(pixels), COUNT(*) FROM class_pixels GROUP BY class_id")
        for class_id, total, holding in rows:
            pixels[class_id], images[class_id] = int(total), int(holding)
        if self.readonly:  # nothing stored: count the uncounted ones now
            for _image_id, counts in self._uncounted():
                for class_id, n in counts.items():
                    pixels[class_id] = pixels.get(class_id, 0) + n
                    images[class_id] = images.get(class_id, 0) + 1
        return pixels, images

    def image_histogram(self, image_id: int) -> dict[int, int]:
        """The stored histogram of one image ({} when it has no masks); counted first if needed."""
        rows = self._query("SELECT counted FROM images WHERE id = ?", (image_id,))
        if rows and not rows[0][0]:
            self.backfill_histograms()
        return {r[0]: int(r[1]) for r in self._query("SELECT class_id, pixels FROM class_pixels WHERE image_id = ?",
                                                     (image_id,))}


def shift_histograms(conn: sqlite3.Connection, class_id: int) -> None:
    """Inside class removal's transaction: `class_id`'s pixels become unlabelled, higher ids move down."""
    conn.execute("INSERT INTO class_pixels (image_id, class_id, pixels) "
                 "SELECT image_id, ?, pixels FROM class_pixels WHERE class_id = ? "
                 "ON CONFLICT (image_id, class_id) DO UPDATE SET pixels = pixels + excluded.pixels",
                 (UNLABELLED, class_id))
    conn.execute("DELETE FROM class_pixels WHERE class_id = ?", (class_id,))
    conn.execute("UPDATE class_pixels SET class_id = class_id + ? WHERE class_id > ?", (_SHIFT, class_id))
    conn.execute("UPDATE class_pixels SET class_id = class_id - ? - 1 WHERE class_id >= ?", (_SHIFT, _SHIFT))
