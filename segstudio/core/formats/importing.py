"""Import a dataset into a project: class mapping by name, per-file reports, human provenance.

`preview_import` reads only what is needed to name the dataset's classes and returns the
mapping table (which dataset class goes to which project class, which ones are new, which are
dropped) before anything is written. `import_dataset` then adds each image with its mask, marks
the pixels as painted by a person (source 3) and the image as done. A file that cannot be used
is reported and leaves nothing in the project (an image copied in for it is deleted again); the
rest imports. An image that is already in the project with nothing painted (an import killed
half-way, or an image added but never labelled) receives the dataset's labels instead of being
refused as a duplicate, so an interrupted import is finished by running it again.

Class names are matched exactly first, then ignoring case; dataset names that differ only by
case fold into one class (an existing project class, else the first spelling). The mapping table
says so row by row, and the pixels land exactly where it says, in the app and the CLI alike.
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
    notes: list[str] = field(default_factory=list)  # files the format recognised and left out on purpose
    cancelled: bool = False

    def summary(self) -> str:
        text = f"imported {len(self.imported)} images, {len(self.problems)} files not imported"
        if self.new_classes:
            text += f"; new classes: {', '.join(self.new_classes)}"
        if self.notes:
            text += f"; {len(self.notes)} files of other kinds left out"
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
    (exactly, else ignoring case), else a new class (one for names that differ only by case)."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(source_names)
    if unknown:
        raise FormatError(f"the mapping names classes the dataset does not have: {', '.join(sorted(unknown))}; "
                          f"it has: {', '.join(source_names)}")
    first_spelling: dict[str, str] = {}
    rows = []
    for source_id, name in enumerate(source_names):
        if name in overrides:
            target = overrides[name]
            if not target:
                rows.append(MappingRow(source_id, name, None, "dropped"))
                continue
            existing = _project_name(target, project_names)
            rows.append(MappingRow(source_id, name, existing or target, "mapped" if existing else "new class"))
        elif (existing := _project_name(name, project_names)) is not None:
            rows.append(MappingRow(source_id, name, existing, "same name"))
        else:  # names differing only by case fold into the first spelling
            target = first_spelling.setdefault(name.casefold(), name)
            rows.append(MappingRow(source_id, name, target, "new class"))
    return rows


def _project_name(name: str, project_names: list[str]) -> str | None:
    """The project class `name` refers to: the exact name, else the one equal ignoring case."""
    if name in project_names:
        return name
    matches = [existing for existing in project_names if existing.casefold() == name.casefold()]
    if len(matches) > 1:
        raise FormatError(f"dataset class {name!r} matches project classes {' and '.join(map(repr, matches))}, which "
                          "differ only by case; say which one it goes to (--map, or the mapping table)")
    return matches[0] if matches else None


def preview_import(project: Project, format_name: str, path: str | Path,
                   overrides: Mapping[str, str] | None = None) -> tuple[list[MappingRow], int]:
    """The mapping table and the number of annotation files, without writing anything."""
    reader = _open_reader(get_format(format_name), Path(path))
    return mapping_table(reader.class_names(), project.class_names(), overrides), len(reader)


def _open_reader(spec: FormatSpec, path: Path):
    """The format's reader on `path`; a dataset in which it finds nothing is refused, naming the
    layout it expected."""
    if not path.exists():
        raise FormatError(f"{path} does not exist")
    reader = spec.importer(path)
    if len(reader) == 0:
        raise FormatError(f"{path}: found nothing to import as {spec.title} (expected {spec.description})")
    return reader


def import_dataset(project: Project, format_name: str, path: str | Path, *, overrides: Mapping[str, str] | None = None,
                   copy_images: bool = False, stop: StopFlag | None = None
                   ) -> Generator[Progress | FileProblem, None, ImportReport]:
    """Import every usable file; yields Progress and each FileProblem as it is found."""
    spec: FormatSpec = get_format(format_name)
    reader = _open_reader(spec, Path(path))
    rows = mapping_table(reader.class_names(), project.class_names(), overrides)
    report = ImportReport(notes=list(getattr(reader, "notes", [])))
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
            try:
                image_path.write_bytes(sample.embedded_image)
            except OSError as exc:  # a full disk: this file is reported, nothing is added
                return FileProblem(sample.annotation, f"cannot write its embedded image: {exc.strerror or exc}")
        copied = copy_images or sample.embedded_image is not None
        added = project.add_images([image_path], recursive=False, copy=copied)
        record = added.added[0] if added.added else _unlabelled_twin(project, image_path) if added.duplicates else None
    if added.duplicates and record is None:
        return FileProblem(sample.annotation, f"image {sample.image_path.name} is already in the project (same bytes) "
                                              "with painted pixels; left as it is")
    if record is None:
        reason = added.failed[0][1] if added.failed else "not added"
        return FileProblem(sample.annotation, f"image {sample.image_path.name}: {reason}")
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
        if added.added:  # only what this import added is taken back
            project.remove_image(record.id)
            if copied and record.path.is_relative_to(Path(project.root) / "images"):
                record.path.unlink(missing_ok=True)
        return FileProblem(sample.annotation, str(exc))
    report.imported.append(record.id)
    return None


def _unlabelled_twin(project: Project, image_path: Path):
    """The project's image with the same bytes as `image_path`, if nothing is painted on it."""
    from segstudio.core.project.images import _sha256

    checksum = _sha256(image_path)
    twin = next((r for r in project.images() if r.checksum == checksum), None)
    return twin if twin is not None and not project.has_masks(twin.id) else None


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
