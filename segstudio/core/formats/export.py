"""Export a project to one or several dataset formats, as a generator with progress and cancel.

Everything is written into a hidden staging folder beside the destination and renamed into
place at the end, so a cancelled or failed export leaves no half-written dataset behind. The
staging folder's name carries the exporting process's id; a later export to the same place
removes the ones whose process is gone (an export killed with kill -9).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.atomic import fsync_dir
from segstudio.core.errors import FormatError, SaveError
from segstudio.core.formats.base import ExportClass, ExportContext, ExportSample, safe_stem, write_text
from segstudio.core.formats.card import DatasetStats, render_card
from segstudio.core.formats.registry import FormatSpec, get_format
from segstudio.core.formats.splits import parse_ratios, stratified_split
from segstudio.core.progress import Progress, StopFlag

if TYPE_CHECKING:
    from segstudio.core.project import Project


@dataclass(frozen=True)
class ExportOptions:
    formats: tuple[str, ...] = ("masks",)
    done_only: bool = True  # False: every image with labelled pixels
    unreviewed: str = "ignore"  # model proposals nobody reviewed (source 1): "ignore" or "label"
    split_mode: str = "keep"  # "keep" the project's splits (unassigned -> train) or make "new" ones
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    link_images: bool = False  # hard link, else symbolic link, else copy
    lossless_images: bool = False  # VOC: keep non-JPEG originals instead of re-encoding to JPEG

    def validated(self) -> ExportOptions:
        if self.unreviewed not in ("ignore", "label"):
            raise FormatError(f"unreviewed pixels are 'ignore' or 'label', not {self.unreviewed!r}")
        if self.split_mode not in ("keep", "new"):
            raise FormatError(f"split mode is 'keep' or 'new', not {self.split_mode!r}")
        for name in self.formats:
            get_format(name)
        if not self.formats:
            raise FormatError("choose at least one format")
        return ExportOptions(**{**asdict(self), "ratios": parse_ratios(self.ratios)})


@dataclass
class ExportReport:
    out: Path
    folders: dict[str, Path] = field(default_factory=dict)
    images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False

    def summary(self) -> str:
        if self.cancelled:
            return "export cancelled; nothing was written"
        where = ", ".join(f"{name}: {path}" for name, path in self.folders.items())
        return f"exported {self.images} images ({where}); {len(self.skipped)} left out (nothing labelled)"


def export_dataset(project: Project, out: str | Path, options: ExportOptions,
                   stop: StopFlag | None = None) -> Generator[Progress, None, ExportReport]:
    """Write the project's labelled images in every chosen format under `out`.

    One format: `out` is the dataset. Several: `out/<format>/` each. `out` must be new or empty.
    """
    from segstudio.core.project import Source, Status

    options = options.validated()
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FormatError(f"{out} already exists and is not empty; choose a new or empty folder")
    specs = [get_format(name) for name in options.formats]
    records = project.images(status=Status.DONE) if options.done_only else project.images()
    classes = [ExportClass(c.id, c.name, tuple(c.color)) for c in sorted(project.classes(), key=lambda c: c.id)]
    ignore = project.ignore_value
    report = ExportReport(out)

    def read(record):
        label = project.read_label(record.id)
        source = project.read_source(record.id)
        exported = label.copy()
        if options.unreviewed == "ignore":
            exported[source == Source.PROPOSAL] = ignore
        return label, source, exported

    splits = {r.id: (r.split.value if r.split.value in ("train", "val", "test") else "train") for r in records}
    if options.split_mode == "new":
        presence = {}
        for done, record in enumerate(records):
            if stop is not None and stop.is_set():
                report.cancelled = True
                return report
            yield Progress(done, len(records), f"scanning classes: {record.name}")
            present = np.unique(read(record)[2]) if project.has_masks(record.id) else np.array([], int)
            presence[record.id] = frozenset(int(v) for v in present if v != ignore)
        splits = stratified_split(presence, options.ratios, options.seed)

    _remove_abandoned_staging(out)
    staging = out.parent / f".{out.name}.segstudio-partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    finished = False
    try:
        staging.mkdir(parents=True)
        roots = {spec.name: staging if len(specs) == 1 else staging / spec.name for spec in specs}
        writers = [spec.exporter(ExportContext(roots[spec.name], classes, options.link_images,
                                               options.lossless_images)) for spec in specs]
        stats = DatasetStats(classes)
        names = _unique_names(records)
        for done, record in enumerate(records):
            if stop is not None and stop.is_set():
                report.cancelled = True
                return report
            yield Progress(done, len(records), record.name)
            label, source, exported = read(record)
            if not (exported != ignore).any():
                stats.skipped.append((record.name, "nothing labelled"))
                continue
            split = splits[record.id]
            sample = ExportSample(names[record.id], record.path, exported, split, ignore,
                                  safe_stem(Path(record.rel_path).parent.name or "default"))
            for writer in writers:
                writer.add(sample)
            stats.add(exported, np.where(label != ignore, source, 0), split, ignore)
            report.images += 1
        if report.images == 0:
            which = "done image" if options.done_only else "image"
            raise FormatError(f"nothing to export: no {which} of the project has labelled pixels"
                              + (" (mark images done, or export all images)" if options.done_only else ""))
        yield Progress(len(records), len(records), "writing annotation files and dataset cards")
        for spec, writer in zip(specs, writers):
            notes = writer.finish()
            write_text(roots[spec.name] / "README.md", _card(project, spec, stats, options, notes))
        fsync_tree(staging)  # the files above skip fsync (see base.write_bytes); made durable here, together
        if out.exists():
            out.rmdir()
        staging.rename(out)
        fsync_dir(out.parent)
        finished = True
    except OSError as exc:
        raise SaveError(f"could not write the export to {out}: {exc.strerror or exc}") from exc
    finally:
        if not finished:
            shutil.rmtree(staging, ignore_errors=True)
    report.folders = {spec.name: out if len(specs) == 1 else out / spec.name for spec in specs}
    report.skipped = stats.skipped
    project.log_event("exported", formats=list(options.formats), images=report.images, out=str(out))
    return report


def fsync_tree(root: Path, threads: int = 8) -> None:
    """fsync every file and folder under `root`, and nothing else (os.sync() flushed the whole
    machine). Several at a time: the file system commits its journal once for many of them."""
    from concurrent.futures import ThreadPoolExecutor

    files, folders = [], [root]
    for folder, dirnames, filenames in os.walk(root):
        folders += [Path(folder) / d for d in dirnames]
        files += [Path(folder) / f for f in filenames if not (Path(folder) / f).is_symlink()]

    def sync_file(path: Path) -> None:
        fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)  # Windows fsyncs writable handles only
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(sync_file, files))
        list(pool.map(fsync_dir, folders))


def _remove_abandoned_staging(out: Path) -> None:
    """Delete staging folders left by killed exports to `out` (their process no longer runs)."""
    if not out.parent.is_dir():
        return
    for folder in out.parent.glob(f".{out.name}.segstudio-partial-*"):
        pid = folder.name.rsplit("segstudio-partial-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or folder.is_symlink() or not folder.is_dir() or _running(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _unique_names(records) -> dict[int, str]:
    """File-name stems for the images, unique even where two images share a name."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for record in records:
        stem = safe_stem(Path(record.name).stem)
        if stem.lower() in taken:
            stem = f"{stem}_{record.id}"
        taken.add(stem.lower())
        names[record.id] = stem
    return names


def _card(project: Project, spec: FormatSpec, stats: DatasetStats, options: ExportOptions, notes: list[str]) -> str:
    from segstudio import __version__

    best = project.proposing_model()  # the model whose proposals the unreviewed pixels hold
    settings = {
        "images": "done only" if options.done_only else "all images with labelled pixels",
        "unreviewed model pixels": "written as ignore" if options.unreviewed == "ignore" else "written as labels",
        "splits": "kept from the project (unassigned images -> train)" if options.split_mode == "keep"
        else f"new, stratified by class presence, ratios {options.ratios}, seed {options.seed}",
        "images copied or linked": "linked (hard link, else symbolic link, else copy)" if options.link_images else "copied",
        "formats in this export": ", ".join(options.formats),
    }
    return render_card(project_name=Path(project.root).name, format_title=spec.title, stats=stats,
                       model_version=best.version if best else None,
                       date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), settings=settings,
                       notes=notes, version=__version__)
