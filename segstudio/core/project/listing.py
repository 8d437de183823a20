"""The image list's queries: orders, filters, light rows, and the review navigation's LIMIT 1 lookups.

A mixin of `Project` (segstudio.core.project.store). A project may hold 100,000 images, so
nothing here builds a record per image: the list asks for the ids in order (one column, one
index scan), light rows only for the rows on screen, and navigation asks for one id.

Each ORDER BY below matches an index of schema v3 exactly (core/project/schema.py), and
`sort_key` is the same order in Python: a row that changed is moved by bisection without
asking the database for the whole list again. SQLite's NOCASE folds ASCII letters only and
compares UTF-8 bytes otherwise, which is code-point order: `fold` does the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from segstudio.core.errors import ProjectError
from segstudio.core.project.records import Split, Status

_STATUS_RANK = {"new": 0, "in_progress": 1, "done": 2}
ORDERS = {
    "name": "name COLLATE NOCASE, id",
    "status": "(CASE status WHEN 'new' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'done' THEN 2 ELSE 3 END), "
              "name COLLATE NOCASE, id",
    "uncertainty": "uncertainty IS NULL, uncertainty DESC, name COLLATE NOCASE, id",
    "added": "id",
}
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ROW_COLUMNS = "id, name, status, split, uncertainty, label_flag, path"


def fold(text: str) -> str:
    """SQLite's NOCASE: ASCII letters folded, everything else as it is."""
    return text.translate(_FOLD)


class ListRow(NamedTuple):
    """What the image list shows of one image (the path is as stored; `Project.image` has the rest)."""

    id: int
    name: str
    status: Status
    split: Split
    uncertainty: float | None
    label_flag: str | None
    path: str


class ListFilter(NamedTuple):
    status: tuple[str, ...] | None = None
    split: tuple[str, ...] | None = None
    search: str | None = None
    order: str = "name"

    @classmethod
    def of(cls, status=None, split=None, search=None, order: str = "name") -> ListFilter:
        if order not in ORDERS:
            raise ProjectError(f"unknown order {order!r}; use one of {sorted(ORDERS)}")
        return cls(_values(status, Status), _values(split, Split), search or None, order)

    def where(self) -> tuple[str, list]:
        where, params = [], []
        for column, values in (("status", self.status), ("split", self.split)):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.search:
            where.append("name LIKE ? ESCAPE '\\'")
            escaped = self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def matches(self, row: ListRow) -> bool:
        """The WHERE clause in Python (LIKE is ASCII case-insensitive, as `fold`)."""
        return ((self.status is None or str(row.status) in self.status)
                and (self.split is None or str(row.split) in self.split)
                and (not self.search or fold(self.search) in fold(row.name)))

    def sort_key(self, row: ListRow) -> tuple:
        """The ORDER BY in Python."""
        name = fold(row.name)
        if self.order == "name":
            return (name, row.id)
        if self.order == "status":
            return (_STATUS_RANK.get(str(row.status), 3), name, row.id)
        if self.order == "uncertainty":
            unsure = row.uncertainty
            return (unsure is None, 0.0 if unsure is None else -unsure, name, row.id)
        return (row.id,)


def _values(value, kind) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    return tuple(kind(v).value for v in values)


class ListingMixin:
    def image_ids(self, listing: ListFilter | None = None) -> list[int]:
        """Ids of the images `listing` keeps, in its order: one column, so 100,000 take ~50 ms."""
        listing = listing or ListFilter()
        where, params = listing.where()
        with self._mutex:
            cursor = self._connection().cursor()
            cursor.row_factory = None
            rows = cursor.execute(f"SELECT id FROM images{where} ORDER BY {ORDERS[listing.order]}", params).fetchall()
        return [row[0] for row in rows]

    def image_rows(self, ids: Iterable[int]) -> dict[int, ListRow]:
        """Light rows of these images, by id (missing ids are left out)."""
        ids = list(ids)
        found: dict[int, ListRow] = {}
        with self._mutex:
            cursor = self._connection().cursor()
            cursor.row_factory = None
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                sql = f"SELECT {_ROW_COLUMNS} FROM images WHERE id IN ({', '.join('?' * len(chunk))})"
                for r in cursor.execute(sql, chunk):
                    found[r[0]] = ListRow(r[0], r[1], Status(r[2]), Split(r[3]), r[4], r[5], r[6])
        return found

    def image_row(self, image_id: int) -> ListRow | None:
        return self.image_rows([image_id]).get(image_id)

    def absolute_path(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def has_image(self, image_id: int) -> bool:
        return bool(self._query("SELECT 1 FROM images WHERE id = ?", (image_id,)))

    def status_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for row in self._query("SELECT status, n FROM status_counts"):  # kept by triggers (schema 3)
            counts[row[0]] = row[1]
        return counts

    # ------------------------------------------------------------ review navigation
    def first_by_name(self, statuses: Iterable[Status | str], after: tuple[str, int] | None = None) -> int | None:
        """The first image of these statuses in name order, after (name, id) when given.

        One LIMIT 1 query per status on the index (status, name NOCASE, id); the smallest wins.
        """
        best: tuple | None = None
        for status in {Status(s).value for s in statuses}:
            if after is None:
                rows = self._query("SELECT name, id FROM images WHERE status = ? "
                                   "ORDER BY name COLLATE NOCASE, id LIMIT 1", (status,))
            else:
                name, image_id = after
                rows = self._query("SELECT name, id FROM images WHERE status = ? AND (name COLLATE NOCASE > ? "
                                   "OR (name COLLATE NOCASE = ? AND id > ?)) ORDER BY name COLLATE NOCASE, id LIMIT 1",
                                   (status, name, name, image_id))
            if rows and (best is None or (fold(rows[0][0]), rows[0][1]) < best):
                best = (fold(rows[0][0]), rows[0][1])
        return None if best is None else best[1]

    def most_uncertain_ids(self, statuses: Iterable[Status | str], limit: int = 2) -> list[int]:
        """Up to `limit` ids of these statuses, most uncertain first (ties by name, then id);
        unscored images after the scored ones, by name. LIMIT queries per status on indexes."""
        scored, unscored = [], []
        for status in {Status(s).value for s in statuses}:
            scored += self._query("SELECT -uncertainty, name, id FROM images WHERE status = ? AND uncertainty IS NOT NULL "
                                  "ORDER BY uncertainty DESC, name, id LIMIT ?", (status, limit))
            unscored += self._query("SELECT name, id FROM images WHERE status = ? AND uncertainty IS NULL "
                                    "ORDER BY name COLLATE NOCASE, id LIMIT ?", (status, limit))
        ranked = [r[2] for r in sorted(tuple(r) for r in scored)]
        ranked += [r[1] for r in sorted(((fold(r[0]), r[1]) for r in unscored))]
        return ranked[:limit]
