"""Which model made each proposal, and labels that look wrong: flagged, then confirmed by a person.

A mixin of `Project` (segstudio.core.project.store). The rule that decides what looks wrong
lives in segstudio.core.training.suspicious; here is only what the project remembers:
- `label_flag`: the plain message of a flagged image; training leaves it out while it is set
  (once its labels change, the next check clears or renews it);
- `label_checked`: the labels' stamp (file times and sizes) when last checked, so unchanged
  labels are not checked again;
- `label_confirmed`: the stamp when a person said "these labels are right"; while the labels
  keep that stamp they are never flagged again. New edits make them checkable again.
"""

from __future__ import annotations

from segstudio.core.project.records import ImageRecord


class LabelChecksMixin:
    def label_stamp(self, image_id: int) -> str:
        """Changes whenever the image's label or source map is rewritten (no decoding)."""
        parts = []
        for folder in (self.labels_dir, self.sources_dir):
            try:
                stat = (folder / f"{image_id}.png").stat()
                parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
            except FileNotFoundError:
                parts.append("-")
        return "|".join(parts)

    def set_proposed_by(self, image_id: int, version: str | None) -> None:
        self._update_image(image_id, "proposed_by", version)

    def flag_labels(self, image_id: int, message: str, stamp: str) -> None:
        """Leave the image out of training until a person confirms its labels; says why."""
        with self._tx() as conn:
            conn.execute("UPDATE images SET label_flag = ?, label_checked = ? WHERE id = ?", (message, stamp, image_id))
        self.log_event("labels_flagged", image_id, message=message)

    def mark_labels_checked(self, image_id: int, stamp: str) -> None:
        """The labels with this stamp look right (a flag on earlier labels goes)."""
        with self._tx() as conn:
            conn.execute("UPDATE images SET label_checked = ?, label_flag = NULL WHERE id = ?", (stamp, image_id))

    def confirm_labels(self, image_id: int) -> None:
        """A person says the labels are right: the flag goes and the image trains again."""
        self.image(image_id)
        stamp = self.label_stamp(image_id)
        with self._tx() as conn:
            conn.execute("UPDATE images SET label_flag = NULL, label_checked = ?, label_confirmed = ? WHERE id = ?",
                         (stamp, stamp, image_id))
        self.log_event("labels_confirmed", image_id)

    def flagged_images(self) -> list[ImageRecord]:
        return [self._record(r) for r in self._query("SELECT * FROM images WHERE label_flag IS NOT NULL ORDER BY id")]

    def label_check_state(self, image_id: int) -> tuple[str | None, str | None]:
        """(stamp when last checked, stamp when confirmed) of an image's labels."""
        row = self._query("SELECT label_checked, label_confirmed FROM images WHERE id = ?", (image_id,))
        return (row[0][0], row[0][1]) if row else (None, None)
