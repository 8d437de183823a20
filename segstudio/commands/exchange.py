"""Dataset exchange sub-commands: `export` and `import`, headless, with progress bars.

Exit codes: 0 done; 1 done, but some files could not be imported (each is listed); 2 bad input,
nothing written (the message says why; also an import that imported nothing); 130 interrupted
(an interrupted export leaves nothing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export", help="write the project's labels as a dataset (voc, cityscapes, coco, yolo, labelme, masks)",
        description="Export labelled images in one or several formats, each with a dataset card (README.md). "
                    "Works while the project is open in the app (it is read only).")
    export.add_argument("project", type=Path, help="project folder")
    export.add_argument("--format", "-f", required=True, dest="formats", metavar="FMT[,FMT...]",
                        help="voc, cityscapes, coco, yolo, labelme, masks; several: one sub-folder each")
    export.add_argument("--out", "-o", required=True, type=Path, help="new or empty folder to write")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--done-only", dest="done_only", action="store_true", default=True,
                       help="only images marked done (default)")
    which.add_argument("--all", dest="done_only", action="store_false",
                       help="every image with labelled pixels")
    export.add_argument("--unreviewed", choices=("ignore", "label"), default="ignore",
                        help="model proposals nobody reviewed: write as ignore (default) or as labels")
    export.add_argument("--split", choices=("keep", "new"), default="keep", dest="split_mode",
                        help="keep the project's splits (default; unassigned -> train) or make new stratified ones")
    export.add_argument("--ratios", default="0.8,0.1,0.1", help="train,val,test ratios for --split new (default: %(default)s)")
    export.add_argument("--seed", type=int, default=0, help="seed for --split new (default: %(default)s)")
    export.add_argument("--link", action="store_true", help="link images (hard, else symbolic) instead of copying")
    export.add_argument("--lossless", action="store_true",
                        help="VOC: keep non-JPEG originals as they are instead of re-encoding to JPEG")
    export.set_defaults(func=run_export)

    imp = subparsers.add_parser(
        "import", help="bring a labelled dataset into a project (labels count as painted by a person)",
        description="Import images and labels. Classes are matched by name; --map renames or drops them. "
                    "Files that cannot be used are listed; the rest imports.")
    imp.add_argument("project", type=Path, help="project folder")
    imp.add_argument("path", type=Path, help="dataset folder (COCO: also one annotation .json file)")
    imp.add_argument("--format", "-f", required=True, dest="format", help="voc, cityscapes, coco, yolo, labelme, masks")
    imp.add_argument("--map", default="", metavar="OLD=NEW,...",
                     help="class mapping by name; OLD= drops a class (its pixels stay unlabelled)")
    imp.add_argument("--copy", action="store_true", help="copy the images into the project")
    imp.add_argument("--dry-run", action="store_true", help="show the class mapping and stop")
    imp.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    from segstudio.core.formats import ExportOptions, export_dataset, parse_formats
    from segstudio.core.progress import drive_with_tqdm
    from segstudio.core.project import Project

    options = ExportOptions(
        formats=tuple(spec.name for spec in parse_formats(args.formats)), done_only=args.done_only,
        unreviewed=args.unreviewed, split_mode=args.split_mode, ratios=args.ratios, seed=args.seed,
        link_images=args.link, lossless_images=args.lossless).validated()
    with Project.open(args.project.expanduser(), readonly=True) as project:
        report = drive_with_tqdm(export_dataset(project, args.out.expanduser(), options), desc="export")
    print(report.summary())
    return 0


def run_import(args: argparse.Namespace) -> int:
    from segstudio.core.formats import FileProblem, import_dataset, parse_mapping, preview_import
    from segstudio.core.progress import drive_with_tqdm
    from segstudio.core.project import Project

    overrides = parse_mapping(args.map)
    with Project.open(args.project.expanduser()) as project:
        rows, count = preview_import(project, args.format, args.path.expanduser(), overrides)
        print(f"{count} annotation files; classes:")
        for row in rows:
            print(f"  {row}")
        if args.dry_run:
            return 0
        gen = import_dataset(project, args.format, args.path.expanduser(), overrides=overrides, copy_images=args.copy)
        report = drive_with_tqdm(gen, desc="import",
                                 on_event=lambda e: print(f"  not imported: {e}", file=sys.stderr)
                                 if isinstance(e, FileProblem) else None)
    for note in report.notes:
        print(f"  left out: {note}")
    print(report.summary())
    if not report.imported and not report.cancelled:
        print("error: nothing was imported (see the files listed above)", file=sys.stderr)
        return 2
    return 1 if report.problems else 0
