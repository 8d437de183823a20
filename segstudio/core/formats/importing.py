"""Import a dataset into a project: class mapping by name, per-file reports, human provenance.

`preview_import` reads only what is needed to name the dataset's classes and returns the
mapping table (which dataset class goes to which project class, which ones are new, which are
dropped) before anything is written. `import_dataset` then adds each image with its mask, marks
the pixels as painted by a person (source 3) and the image as done. A file that cannot be used
is reported and leaves nothing in the project; the rest imports.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.errors import FormatError, SegStudioError
from segstudio.core.formats.base import FileProblem, ImportSample
from segstudio.core.formats.registry import FormatSpec, get_format
from segstudio.core.progress import Progress, StopFlag

if TYPE_CHECKING:
    from segstudio.core.project import Project


@dataclass(frozen=True)
class MappingRow:
    source_id: int
    source_name: str
    target_name: str | None  # None: dropped (its pixels import as unlabelled)
    action: str  # "same name", "mapped", "new class", "dropped"

    def __str__(self) -> str:
        target = self.target_name if self.target_name is not None else "(unlabelled)"
        return f"{self.source_name} -> {target} [{self.action}]"


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)  # project image ids
    problems: list[FileProblem] = field(default_factory=list)
    new_classes: list[str] = field(default_factory=list)
    cancelled: bool = False

    def summary(self) -> str:
        text = f"imported {len(self.imported)} images, {len(self.problems)} files not imported"
        if self.new_classes:
            text += f"; new classes: {', '.join(self.new_classes)}"
        return text + (" (cancelled)" if self.cancelled else "")


def parse_mapping(text: str | None) -> dict[str, str]:
    """'old=new,cat=' -> {'old': 'new', 'cat': ''} (an empty target drops the class)."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise FormatError(f"class mapping items look like old=new (or old= to drop), got {item!r}")
        old, new = item.split("=", 1)
        mapping[old.strip()] = new.strip()
    return mapping


def mapping_table(source_names: list[str], project_names: list[str], overrides: Mapping[str, str] | None = None) -> list[MappingRow]:
    """Where each dataset class goes: an override, else the project class of the same name
    (case-insensitive), else a new class."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(source_names)
    if unknown:
        raise FormatError(f"the mapping names classes the dataset does not have: {', '.join(sorted(unknown))}; "
                          f"it has: {', '.join(source_names)}")
    by_lower = {name.lower(): name for name in project_names}
    rows = []
    for source_id, name in enumerate(source_names):
        if name in overrides:
            target = overrides[name]
            if not target:
                rows.append(MappingRow(source_id, name, None, "dropped"))
                continue
            existing = by_lower.get(target.lower())
            rows.append(MappingRow(source_id, name, existing or target, "mapped" if existing else "new class"))
        elif name.lower() in by_lower:
            rows.append(MappingRow(source_id, name, by_lower[name.lower()], "same name"))
        else:
            rows.append(MappingRow(source_id, name, name, "new class"))
    return rows


def preview_import(project: Project, format_name: str, path: str | Path,
                   overrides: Mapping[str, str] | None = None) -> tuple[list[MappingRow], int]:
    """The mapping table and the number of annotation files, without writing anything."""
    reader = get_format(format_name).importer(Path(path))
    return mapping_table(reader.class_names(), project.class_names(), overrides), len(reader)


def import_dataset(project: Project, format_name: str, path: str | Path, *, overrides: Mapping[str, str] | None = None,
                   copy_images: bool = False, stop: StopFlag | None = None
                   ) -> Generator[Progress | FileProblem, None, ImportReport]:
    """Import every usable file; yields Progress and each FileProblem as it is found."""
    spec: FormatSpec = get_format(format_name)
    reader = spec.importer(Path(path))
    rows = mapping_table(reader.class_names(), project.class_names(), overrides)
    report = ImportReport()
    total = len(reader)
    for done, item in enumerate(reader):
        if stop is not None and stop.is_set():
            report.cancelled = True
            break
        yield Progress(done, total, item.annotation.name if isinstance(item, ImportSample) else item.path.name)
        problem = item if isinstance(item, FileProblem) else _import_one(project, item, rows, copy_images, report)
        if problem is not None:
            report.problems.append(problem)
            yield problem
    yield Progress(total, total, report.summary())
    if report.imported:
        project.log_event("imported", format=spec.name, path=str(path), images=len(report.imported))
    return report


def _import_one(project: Project, sample: ImportSample, rows: list[MappingRow], copy_images: bool,
                report: ImportReport) -> FileProblem | None:
    from segstudio.core.project import Source, Status

    with tempfile.TemporaryDirectory(prefix="segstudio-import-") as scratch:
        image_path = sample.image_path
        if sample.embedded_image is not None:
            image_path = Path(scratch) / f"{sample.image_path.stem}{sample.embedded_suffix}"
            image_path.write_bytes(sample.embedded_image)
        added = project.add_images([image_path], recursive=False, copy=copy_images or sample.embedded_image is not None)
    if added.duplicates:
        return FileProblem(sample.annotation, f"image {sample.image_path.name} is already in the project (same bytes); left as it is")
    if not added.added:
        reason = added.failed[0][1] if added.failed else "not added"
        return FileProblem(sample.annotation, f"image {sample.image_path.name}: {reason}")
    record = added.added[0]
    try:
        if (record.height, record.width) != sample.label.shape:
            raise FormatError(f"labels are {sample.label.shape[1]}x{sample.label.shape[0]} but the image is "
                              f"{record.width}x{record.height}")
        label = _to_project_label(project, sample.label, rows, report)
        source = np.where(label != project.ignore_value, np.uint8(Source.HUMAN), np.uint8(Source.NONE)).astype(np.uint8)
        project.write_masks(record.id, label, source)
        if sample.split in ("train", "val", "test"):
            project.set_split(record.id, sample.split)
        project.set_status(record.id, Status.DONE)
    except SegStudioError as exc:
        project.remove_image(record.id)
        return FileProblem(sample.annotation, str(exc))
    report.imported.append(record.id)
    return None


def _to_project_label(project: Project, label: np.ndarray, rows: list[MappingRow], report: ImportReport) -> np.ndarray:
    """Dataset ids -> project ids, creating the new classes this image needs."""
    present = [int(v) for v in np.unique(label) if v >= 0]
    for source_id in present:
        target = rows[source_id].target_name
        if target is not None and target not in project.class_names():
            project.add_class(target)
            report.new_classes.append(target)
    names = project.class_names()
    ignore = project.ignore_value
    lut = np.full(len(rows) + 1, ignore, dtype=np.int64)  # the last entry serves -1 (unlabelled)
    for row in rows:
        if row.target_name is not None and row.target_name in names:
            lut[row.source_id] = names.index(row.target_name)
    return lut[label].astype(project.label_dtype)
