"""Model versions, the event history, project settings and statistics.

A mixin of `Project` (segstudio.core.project.store), kept apart so each file has one job.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from segstudio.core.project.records import ModelRecord, Split, Status, now


class CatalogMixin:
    # -------------------------------------------------------------------- models
    def new_model_version(self) -> str:
        taken = {r[0] for r in self._query("SELECT version FROM models")}
        if self.models_dir.is_dir():
            taken |= {p.name for p in self.models_dir.iterdir()}
        number = 1
        while f"v{number:04d}" in taken:
            number += 1
        return f"v{number:04d}"

    def register_model(self, version: str, arch: str, metrics: dict | None = None, *, best: bool = False) -> ModelRecord:
        with self._tx() as conn:
            if best:
                conn.execute("UPDATE models SET is_best = 0")
            conn.execute("INSERT OR REPLACE INTO models (version, arch, created_at, metrics, is_best) VALUES (?, ?, ?, ?, ?)",
                         (version, arch, now(), json.dumps(metrics or {}), int(best)))
        self.log_event("model_registered", version=version, best=best)
        return next(m for m in self.models() if m.version == version)

    def models(self) -> list[ModelRecord]:
        return [ModelRecord(r["version"], r["arch"], self.models_dir / r["version"], r["created_at"],
                            json.loads(r["metrics"]), bool(r["is_best"]))
                for r in self._query("SELECT * FROM models ORDER BY version")]

    def forget_model(self, version: str) -> None:
        """Drop a version from the catalogue (its folder is the caller's to remove)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM models WHERE version = ?", (version,))
        self.log_event("model_forgotten", version=version)

    def best_model(self) -> ModelRecord | None:
        best = [m for m in self.models() if m.is_best]
        return best[-1] if best else None

    # ---------------------------------------------------------- history, settings
    def log_event(self, kind: str, image_id: int | None = None, **data: Any) -> None:
        if self.readonly:
            return
        with self._tx() as conn:
            conn.execute("INSERT INTO history (at, kind, image_id, data) VALUES (?, ?, ?, ?)",
                         (now(), kind, image_id, json.dumps(data, default=str)))

    def history(self, limit: int = 100) -> list[dict]:
        rows = self._query("SELECT * FROM history ORDER BY id DESC LIMIT ?", (limit,))
        return [{"at": r["at"], "kind": r["kind"], "image_id": r["image_id"], **json.loads(r["data"])} for r in rows]

    def get_setting(self, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def stats(self) -> dict:
        """Counts per status and split and pixel totals per class (reads every label map)."""
        status_counts = {s.value: 0 for s in Status}
        split_counts = {s.value: 0 for s in Split}
        for row in self._query("SELECT status, split, COUNT(*) AS n FROM images GROUP BY status, split"):
            status_counts[row["status"]] += row["n"]
            split_counts[row["split"]] += row["n"]
        names = self.class_names()
        totals = np.zeros(len(names) + 1, dtype=np.int64)
        for record in self.images():
            if self.has_masks(record.id):
                label = self.read_label(record.id)
                counts = np.bincount(np.minimum(label.ravel(), len(names)), minlength=len(names) + 1)
                totals += counts[: len(names) + 1]
        return {
            "images": sum(status_counts.values()),
            "status_counts": status_counts,
            "split_counts": split_counts,
            "class_pixels": {name: int(totals[i]) for i, name in enumerate(names)},
            "unlabelled_pixels": int(totals[len(names)]),
        }

