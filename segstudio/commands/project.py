"""Project sub-commands: `new`, `add` and `info`, headless.

Exit codes: 0 done; 1 done, but some images could not be added (each is listed); 2 bad input,
nothing changed (the message says why). Heavy imports happen inside the handlers so that
`segstudio --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from segstudio.core.errors import ProjectError, ProjectLockedError, ProjectReadOnlyError

if TYPE_CHECKING:
    from segstudio.core.project import Project

DEFAULT_CLASSES = "background,foreground"


def register(subparsers) -> None:
    new = subparsers.add_parser(
        "new", help="create a project, optionally with images",
        description="Create a project folder (it must not exist yet, or be empty) and add images.",
    )
    new.add_argument("project", type=Path, help="folder to create")
    new.add_argument("--images", action="append", type=Path, default=[], metavar="PATH",
                     help="image file or folder (searched recursively) to add; may be repeated")
    new.add_argument("--classes", default=DEFAULT_CLASSES,
                     help="comma-separated class names, background first (default: %(default)s)")
    _add_image_options(new)
    new.set_defaults(func=run_new)

    add = subparsers.add_parser(
        "add", help="add images to a project",
        description="Add image files and folders; images already in the project (same bytes) are skipped.",
    )
    add.add_argument("project", type=Path, help="project folder")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    _add_image_options(add)
    add.set_defaults(func=run_add)

    info = subparsers.add_parser(
        "info", help="summarise a project: images per status and split, class pixels, models",
        description="Summarise a project. Works read-only while the project is open elsewhere.",
    )
    info.add_argument("project", type=Path, help="project folder")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(func=run_info)


def _add_image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--copy", action="store_true",
                        help="copy the images into the project's images/ folder (default: refer to them where they are)")
    parser.add_argument("--no-recursive", dest="recursive", action="store_false",
                        help="do not look into sub-folders")


def parse_class_list(text: str) -> list[str]:
    """'background, cell,nucleus' -> names; refuses empty, duplicate or too few names."""
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise ProjectError(f"bad class list {text!r}: a class name is empty (use e.g. background,cell)")
    lowered = [name.casefold() for name in names]
    repeated = sorted({name for name in names if lowered.count(name.casefold()) > 1})
    if repeated:
        raise ProjectError(f"bad class list {text!r}: {', '.join(repeated)} appears more than once")
    if len(names) < 2:
        raise ProjectError(f"bad class list {text!r}: a project needs at least two classes, e.g. background,cell")
    return names


def run_new(args: argparse.Namespace) -> int:
    from segstudio.core.project import Project

    classes = parse_class_list(args.classes)
    if args.images:
        _check_image_paths(args.images, args.recursive)
    root = args.project.expanduser()
    with Project.create(root, classes) as project:
        print(f"Created project {project.root} with classes {', '.join(classes)}")
        failed = _add(project, args.images, args) if args.images else 0
    return 1 if failed else 0


def run_add(args: argparse.Namespace) -> int:
    _check_image_paths(args.paths, args.recursive)
    with _open_for_writing(args.project) as project:
        return 1 if _add(project, args.paths, args) else 0


def run_info(args: argparse.Namespace) -> int:
    from segstudio.core.autosave import RecoveryReport, recover
    from segstudio.core.journal import ProjectJournal
    from segstudio.core.project import Project
    from segstudio.core.project.guard import storage_problem

    root = _existing_project(args.project)
    try:
        project = Project.open(root)
        open_elsewhere = read_only_storage = False
    except (ProjectLockedError, ProjectReadOnlyError) as exc:  # still worth a look, read-only
        project = Project.open(root, readonly=True)
        read_only_storage = isinstance(exc, ProjectReadOnlyError)
        open_elsewhere = not read_only_storage
    with project:
        if project.resumed:
            print(project.resumed)
        report = RecoveryReport() if project.readonly else recover(project)
        summary = _summary(project, report, ProjectJournal(project).image_ids(), open_elsewhere)
        summary["read_only_storage"] = (storage_problem(root) or "read-only") if read_only_storage else ""
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_format_summary(summary))
    return 0


# --------------------------------------------------------------------------- helpers

def _existing_project(path: Path) -> Path:
    from segstudio.core.project import Project

    root = path.expanduser()
    if not root.exists():
        raise ProjectError(f"{root}: no such folder")
    if not Project.is_project(root):
        raise ProjectError(f"{root} is not a SegStudio project (create one with `segstudio new {root}`)")
    return root


def _open_for_writing(path: Path):
    """Open a project for changes and fold any journal a crash left behind (and say so)."""
    from segstudio.core.autosave import recover
    from segstudio.core.project import Project

    project = Project.open(_existing_project(path))
    try:
        report = recover(project)
    except BaseException:
        project.close()
        raise
    for message in (project.resumed, report.summary()):
        if message:
            print(message)
    return project


def _check_image_paths(paths: list[Path], recursive: bool) -> None:
    """Refuse missing paths and folders without a single image before anything is written."""
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    missing = [str(p) for p in paths if not p.expanduser().exists()]
    if missing:
        raise ProjectError(f"no such file or folder: {', '.join(missing)}")
    for path in (p.expanduser() for p in paths):
        if path.is_dir():
            candidates = path.rglob("*") if recursive else path.glob("*")
            if any(c.suffix.lower() in IMAGE_EXTENSIONS and c.is_file() for c in candidates):
                return
        elif path.is_file():
            return
    kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
    raise ProjectError(f"no images found in {', '.join(str(p) for p in paths)} (looked for {kinds})")


def _add(project: Project, paths: list[Path], args: argparse.Namespace) -> int:
    """Add with a progress bar, print what happened; returns how many files failed."""
    from segstudio.core.progress import drive_with_tqdm

    report = drive_with_tqdm(
        project.iter_add_images(paths, recursive=args.recursive, copy=args.copy), desc="Adding images"
    )
    print(f"Images: {report.summary(named=0)}")
    for path, reason in report.failed:
        shown = str(path).encode("utf-8", "backslashreplace").decode("utf-8")  # names that are not UTF-8
        print(f"  could not add {shown}: {reason}", file=sys.stderr)
    return len(report.failed)


def _summary(project: Project, report, waiting: list[int], open_elsewhere: bool) -> dict:
    stats = project.stats()
    return {
        "project": str(project.root),
        "open_elsewhere": open_elsewhere,
        "classes": [{"id": c.id, "name": c.name, "color": "#%02x%02x%02x" % c.color} for c in project.classes()],
        "images": stats["images"],
        "status": stats["status_counts"],
        "split": stats["split_counts"],
        "class_pixels": stats["class_pixels"],
        "unlabelled_pixels": stats["unlabelled_pixels"],
        "models": [{"version": m.version, "arch": m.arch, "best": m.is_best, "pinned": m.pinned, "kind": m.kind,
                    "metrics": m.metrics} for m in project.models()],
        "flagged_labels": [{"image_id": r.id, "message": r.label_flag} for r in project.flagged_images()],
        "recovered": [{"image_id": i.image_id, "name": i.name, "edits": i.edits, "skipped_records": i.skipped_records}
                      for i in report.images],
        "recovery_failed": [{"image_id": i, "reason": reason} for i, reason in report.failed],
        "journal_waiting": waiting,
        "past_recoveries": [event for event in project.history(limit=1000) if event["kind"] == "journal_recovered"],
    }


def _format_summary(s: dict) -> str:
    lines = [f"Project {s['project']}"]
    if s.get("read_only_storage") == "full":
        lines.append("  (its disk is full: shown read-only)")
    elif s.get("read_only_storage"):
        lines.append("  (on read-only storage: shown read-only)")
    if s["open_elsewhere"]:
        lines.append("  (open in another window or process: shown read-only)")
    lines.append(f"Classes ({len(s['classes'])}): " + ", ".join(f"{c['id']} {c['name']}" for c in s["classes"]))
    lines.append(f"Images: {s['images']}")
    lines.append("  status: " + ", ".join(f"{k} {v}" for k, v in s["status"].items()))
    lines.append("  split:  " + ", ".join(f"{k} {v}" for k, v in s["split"].items()))
    total = sum(s["class_pixels"].values()) + s["unlabelled_pixels"]
    lines.append("Pixels per class:" if total else "Pixels per class: nothing labelled yet")
    if total:
        width = max(len(name) for name in [*s["class_pixels"], "unlabelled"])
        for name, count in [*s["class_pixels"].items(), ("unlabelled", s["unlabelled_pixels"])]:
            lines.append(f"  {name:<{width}}  {count:>14,}  {100 * count / total:5.1f}%")
    if s["models"]:
        lines.append("Models: " + ", ".join(
            f"{m['version']} ({m['arch']}{', best' if m['best'] else ''}{', pinned' if m['pinned'] else ''})"
            for m in s["models"]))
    else:
        lines.append("Models: none yet")
    for item in s["flagged_labels"]:
        lines.append(f"Check labels of image {item['image_id']}: {item['message']}")
    for item in s["recovered"]:
        skipped = item["skipped_records"]
        lines.append(f"Recovered {item['edits']} unsaved edits of {item['name']} left by a crash" + (
            f"; {skipped} damaged journal record{'s were' if skipped != 1 else ' was'} skipped" if skipped else ""))
    for item in s["recovery_failed"]:
        lines.append(f"Could not recover the edits of image {item['image_id']}: {item['reason']}")
    if s["journal_waiting"]:
        lines.append(f"Edits not yet folded into labels/ (journal): images {s['journal_waiting']}")
    if s["past_recoveries"]:
        edits = sum(e.get("edits", 0) for e in s["past_recoveries"])
        lines.append(f"Crash recoveries so far: {len(s['past_recoveries'])} images, {edits} edits")
    return "\n".join(lines)
