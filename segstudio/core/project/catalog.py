"""Model versions, the event history, project settings and statistics.

A mixin of `Project` (segstudio.core.project.store), kept apart so each file has one job.
"""

from __future__ import annotations

import json
from typing import Any

from segstudio.core.errors import ProjectError
from segstudio.core.project.histograms import UNLABELLED
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

    def register_model(self, version: str, arch: str, metrics: dict | None = None, *, best: bool = False,
                       kind: str = "network") -> ModelRecord:
        """Add a version; `best=True` only for a model that beat the best (compare.decide said so)."""
        with self._tx() as conn:
            rank = None
            if best:
                conn.execute("UPDATE models SET is_best = 0")
                rank = conn.execute("SELECT COALESCE(MAX(best_rank), 0) + 1 FROM models").fetchone()[0]
            conn.execute("INSERT OR REPLACE INTO models (version, arch, created_at, metrics, is_best, kind, best_rank) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (version, arch, now(), json.dumps(metrics or {}), int(best), kind, rank))
        self.log_event("model_registered", version=version, best=best, model_kind=kind)
        return self.model(version)

    def models(self) -> list[ModelRecord]:
        """Every version, oldest first, with its scores, kind, pin and rank."""
        return [self._model_record(r) for r in self._query("SELECT * FROM models ORDER BY version")]

    def model(self, version: str) -> ModelRecord:
        rows = self._query("SELECT * FROM models WHERE version = ?", (version,))
        if not rows:
            raise ProjectError(f"there is no model {version} in {self.root}")
        return self._model_record(rows[0])

    def _model_record(self, row) -> ModelRecord:
        return ModelRecord(row["version"], row["arch"], self.models_dir / row["version"], row["created_at"],
                           json.loads(row["metrics"]), bool(row["is_best"]), row["kind"], bool(row["pinned"]),
                           row["best_rank"])

    def forget_model(self, version: str) -> None:
        """Drop a version from the catalogue (its folder is the caller's to remove)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM models WHERE version = ?", (version,))
        self.log_event("model_forgotten", version=version)

    def best_model(self) -> ModelRecord | None:
        """The latest model that beat the best before it (what training warm-starts from)."""
        best = [m for m in self.models() if m.is_best]
        return best[-1] if best else None

    def proposing_model(self) -> ModelRecord | None:
        """THE model that proposes: the pinned version if a person pinned one, else the ladder's choice.

        Everything that proposes (the Model dock, proposal refresh, `segstudio predict`, the demo,
        the benchmarks) asks this one function.
        """
        pinned = [m for m in self.models() if m.pinned]
        if pinned:
            return pinned[-1]
        from segstudio.core.ladder import ladder_choice  # the instant classifier or the best network

        return ladder_choice(self)

    def pin_model(self, version: str | None) -> None:
        """Make `version` propose whatever the scores (roll back), or None to follow the best again."""
        with self._tx() as conn:
            if version is not None and not conn.execute("SELECT 1 FROM models WHERE version = ?", (version,)).fetchone():
                raise ProjectError(f"there is no model {version} to pin")
            conn.execute("UPDATE models SET pinned = 0")
            if version is not None:
                conn.execute("UPDATE models SET pinned = 1 WHERE version = ?", (version,))
        self.log_event("model_pinned" if version else "model_unpinned", version=version)

    def rollback_target(self) -> ModelRecord | None:
        """The version a roll back pins: the best model before the one proposing now."""
        proposer = self.proposing_model()
        if proposer is None:
            return None
        line = [m for m in self.models() if m.best_rank is not None]
        if proposer.best_rank is not None:
            earlier = [m for m in line if m.best_rank < proposer.best_rank]
        else:
            earlier = [m for m in line if m.version < proposer.version]
        return max(earlier, key=lambda m: m.best_rank) if earlier else None

    def proposal_outdated(self, made_by: str | None, proposer: ModelRecord) -> bool:
        """Should `proposer` replace a proposal `made_by` made? Only when it is better, or pinned."""
        return _outdated(made_by, proposer, self._ranks())

    def outdated_proposals(self, records: list, proposer: ModelRecord) -> list:
        """The image records whose proposal `proposer` should replace (one look at the versions)."""
        ranks = self._ranks()
        return [record for record in records if _outdated(record.proposed_by, proposer, ranks)]

    def _ranks(self) -> dict[str, tuple[int | None, str]]:
        return {r["version"]: (r["best_rank"], r["kind"]) for r in self._query("SELECT version, best_rank, kind FROM models")}

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
        """Counts per status and split and pixel totals per class (from the stored histograms)."""
        status_counts = {s.value: 0 for s in Status}
        split_counts = {s.value: 0 for s in Split}
        for row in self._query("SELECT status, split, COUNT(*) AS n FROM images GROUP BY status, split"):
            status_counts[row["status"]] += row["n"]
            split_counts[row["split"]] += row["n"]
        names = self.class_names()
        pixels, _images = self.class_pixel_totals()
        return {
            "images": sum(status_counts.values()),
            "status_counts": status_counts,
            "split_counts": split_counts,
            "class_pixels": {name: pixels.get(i, 0) for i, name in enumerate(names)},
            "unlabelled_pixels": pixels.get(UNLABELLED, 0),
        }


def _outdated(made_by: str | None, proposer: ModelRecord, ranks: dict[str, tuple[int | None, str]]) -> bool:
    """Better means later in the line of best models (each beat the one before); a proposal from
    a model outside that line (imported, removed, unknown) gives way to any ranked one; a pinned
    proposer replaces every proposal but its own (the person chose it). Between kinds the ladder
    decided (core/ladder.py): the kind chosen now did better on the images reviewed last; a newer
    instant classifier (plain or hybrid) learnt from more reviewed pixels than an older one."""
    if made_by == proposer.version:
        return False
    if made_by is None or proposer.pinned:
        return True
    old_rank, old_kind = ranks.get(made_by, (None, None))
    if old_kind is not None and old_kind != proposer.kind:
        return True
    if proposer.kind in ("instant", "hybrid"):
        return old_kind is None or made_by < proposer.version
    return proposer.best_rank is not None and (old_rank is None or proposer.best_rank > old_rank)
