"""`segstudio versions` and `segstudio labels`: the model versions and suspicious labels, headless.

`versions` lists every version with its role, score and what it saw, and pins, rolls back or
unpins (the same Project calls as the Model dock's versions list). `labels` lists the images
whose labels a confident model questioned and confirms them (the Training dock's list).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    versions = subparsers.add_parser(
        "versions", help="list model versions; pin one, roll back or follow the best again",
        description="Every model version with its role (proposing, pinned, best), validation mIoU, the images it "
        "trained on, kind and date. A pinned version proposes whatever the scores.")
    versions.add_argument("project", type=Path, help="project folder")
    action = versions.add_mutually_exclusive_group()
    action.add_argument("--pin", metavar="VERSION", help="make VERSION propose (roll back to any version)")
    action.add_argument("--rollback", action="store_true", help="pin the best model before the proposing one")
    action.add_argument("--unpin", action="store_true", help="the best model proposes again")
    versions.add_argument("--json", action="store_true", help="print the versions as JSON")
    versions.set_defaults(func=run_versions)

    labels = subparsers.add_parser(
        "labels", help="list images whose labels a confident model questioned; confirm them",
        description="Flagged images are left out of training until their labels are confirmed (or changed).")
    labels.add_argument("project", type=Path, help="project folder")
    labels.add_argument("--confirm", type=int, action="append", default=[], metavar="IMAGE_ID",
                        help="the labels of IMAGE_ID are right: it trains again (repeatable)")
    labels.set_defaults(func=run_labels)


def run_versions(args: argparse.Namespace) -> int:
    from segstudio.core.errors import SegStudioError
    from segstudio.core.project import Project

    changing = bool(args.pin or args.rollback or args.unpin)
    with Project.open(args.project, readonly=not changing) as project:
        if args.rollback:
            target = project.rollback_target()
            if target is None:
                raise SegStudioError("no older best model to roll back to")
            project.pin_model(target.version)
        elif args.pin or args.unpin:
            project.pin_model(args.pin)
        proposer = project.proposing_model()
        rows = [{"version": m.version, "proposing": proposer is not None and m.version == proposer.version,
                 "pinned": m.pinned, "best": m.is_best, "val_miou": m.miou, "images_seen": m.images_seen,
                 "kind": m.kind, "arch": m.arch, "created_at": m.created_at} for m in project.models()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in reversed(rows):
        role = ", ".join(name for name in ("proposing", "pinned", "best") if row[name])
        score = "" if row["val_miou"] is None else f"mIoU {row['val_miou']:.3f}"
        seen = "" if row["images_seen"] is None else f"{row['images_seen']} images"
        print(f"{row['version']}  {role:<26} {score:<11} {seen:<11} {row['kind']:<8} {row['created_at']}")
    if not rows:
        print("no model yet")
    return 0


def run_labels(args: argparse.Namespace) -> int:
    from segstudio.core.project import Project

    with Project.open(args.project, readonly=not args.confirm) as project:
        for image_id in args.confirm:
            project.confirm_labels(image_id)
        flagged = project.flagged_images()
    for record in flagged:
        print(f"{record.id}  {record.label_flag}")
    if not flagged:
        print("no flagged labels")
    return 0
