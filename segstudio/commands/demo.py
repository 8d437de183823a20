"""`segstudio demo`: the first ten minutes. Copy the bundled nuclei demo into a writable folder,
open it, and start training at once so proposals appear on the unreviewed images.

The demo (resources/demo, see its NOTICE.md) holds 14 fluorescence crops of BBBC007v1; three come
with reviewed masks (background / nucleus / nucleus boundary), the other eleven are for the model
to propose and the person to correct. Running the command again reopens the same project, so work
done in the demo is kept; `--reset` starts it over.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from segstudio.core.errors import ProjectError

DEMO_SETTING = "demo"  # project setting that marks a folder as made by this command


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="open the bundled demo project (nuclei) and watch a model learn from it",
        description="Copy the demo project into a writable folder, open the app on it and start "
        "training in the background. Run it again to continue where you left off.",
    )
    parser.add_argument("--into", type=Path, metavar="DIR",
                        help="folder for the demo project (default: a per-user data folder, "
                        "e.g. ~/.local/share/SegStudio/demo on Linux)")
    parser.add_argument("--reset", action="store_true",
                        help="delete the demo project made earlier in that folder and start over")
    parser.add_argument("--no-train", action="store_true", help="open the demo without starting training")
    parser.add_argument("--headless", action="store_true",
                        help="no window: train for --minutes, write proposals, print a summary")
    parser.add_argument("--minutes", type=float, default=1.0,
                        help="training budget of --headless, in minutes (default 1)")
    parser.add_argument("--device", help="compute device: cuda, mps or cpu (default: the best found)")
    parser.set_defaults(func=run_demo)


def default_demo_dir() -> Path:
    """A per-user data folder: ~/.local/share/SegStudio/demo, ~/Library/Application Support/..., %LOCALAPPDATA%\\..."""
    import platformdirs

    return platformdirs.user_data_path("SegStudio", appauthor=False) / "demo"


def load_manifest() -> dict[str, Any]:
    from segstudio.resources_path import resource_path

    path = resource_path("demo", "demo.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"the bundled demo is damaged ({path}: {exc}); reinstall SegStudio") from exc


def prepare_demo(target: Path, *, reset: bool = False) -> Path:
    """Make `target` the demo project (or keep the one already there) and return its path.

    Refuses to touch a folder that holds anything else than a demo made by this command.
    """
    from segstudio.core.project import Project

    target = Path(target).expanduser().absolute()
    if Project.is_project(target):
        if not _is_demo(target, for_reset=reset):
            raise ProjectError(f"{target} holds a SegStudio project that is not the demo; choose another --into folder")
        if not reset:
            return target
        shutil.rmtree(target)
    elif target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProjectError(f"{target} exists and is not empty; choose another --into folder")
    _create_demo(target)
    return target


def _is_demo(root: Path, *, for_reset: bool) -> bool:
    """Whether `root` was made by this command. Before a reset the project is opened for
    writing, so a demo that is open in a window is refused (ProjectLockedError), not deleted."""
    from segstudio.core.project import Project

    with Project.open(root, readonly=not for_reset) as project:
        return bool(project.get_setting(DEMO_SETTING))


def _create_demo(root: Path) -> None:
    import numpy as np
    from PIL import Image

    from segstudio.core.project import Project, Source
    from segstudio.resources_path import resource_path

    manifest = load_manifest()
    demo_dir = resource_path("demo")
    classes = manifest["classes"]
    try:
        with Project.create(root, [c["name"] for c in classes], colors=[tuple(c["color"]) for c in classes]) as project:
            report = project.add_images([demo_dir / image["file"] for image in manifest["images"]], copy=True)
            if report.failed:
                raise ProjectError(f"the bundled demo images could not be added: {report.failed}")
            by_name = {record.name: record for record in project.images()}
            for image in manifest["images"]:
                if "mask" not in image:
                    continue
                record = by_name[Path(image["file"]).name]
                with Image.open(demo_dir / image["mask"]) as mask:
                    label = np.array(mask, dtype=np.uint8)
                project.write_masks(record.id, label, np.full(label.shape, Source.HUMAN, np.uint8))
                project.mark_done(record.id)
            project.set_setting(DEMO_SETTING, {"title": manifest["title"], "attribution": manifest["attribution"]})
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # a half-made demo would be refused next time
        raise


def demo_train_config(base=None, *, minutes: float | None = None, device: str | None = None):
    """Training settings that give visible proposals within about a minute on a 2-core CPU.

    A small U-Net (3 levels, 16 channels) learns nuclei from the three reviewed crops in a few
    dozen steps; 96-pixel patches keep each step short. `base` (e.g. the Training panel's own
    config: threads, continuous mode, patience) keeps its other settings.
    """
    import dataclasses

    from segstudio.core.training.augment import AugmentConfig
    from segstudio.core.training.config import TrainConfig

    base = base if base is not None else TrainConfig(minutes=minutes, device=device)
    return dataclasses.replace(base, arch="unet", model_options={"depth": 3, "width": 16}, batch_size=8,
                               lr=3e-3, schedule_epochs=30, augment=AugmentConfig(patch=96))


def run_headless(root: Path, *, minutes: float, device: str | None, train: bool) -> int:
    """Train for `minutes`, let the ladder pick a model, propose on the unreviewed images, print what happened."""
    from segstudio.core import ladder
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.ladder_round import instant_round, refresh_unreviewed
    from segstudio.core.progress import drive_with_tqdm
    from segstudio.core.project import Project, Source, Status
    from segstudio.core.training.trainer import train as train_project

    with Project.open(root) as project:
        drive_with_tqdm(instant_round(project, InstantTier(project.class_names()), device=device), "instant classifier")
        if train:
            result = drive_with_tqdm(train_project(project, demo_train_config(minutes=minutes, device=device)),
                                     "training")
            print(f"trained {result.steps} steps ({result.reason}); kept {', '.join(result.kept_versions) or 'no model'}; "
                  f"best validation mIoU {result.best_miou:.3f}")
        record = ladder.proposing_record(project)
        if record is not None:
            proposer = ladder.load_proposing(project, device=device)
            drive_with_tqdm(refresh_unreviewed(project, proposer), "proposing")
        new = project.images(status=Status.NEW)
        proposed = [r for r in new if (project.read_source(r.id) == Source.PROPOSAL).any()]
        print(f"demo project {root}: {len(proposed)} of {len(new)} unreviewed images have proposals"
              + (f" from {record.version} ({ladder.kind_of(record.arch)})" if record else " (no model yet)"))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    if args.minutes <= 0:
        raise ProjectError(f"--minutes must be more than 0, got {args.minutes}")
    root = prepare_demo(args.into or default_demo_dir(), reset=args.reset)
    if args.headless:
        return run_headless(root, minutes=args.minutes, device=args.device, train=not args.no_train)
    print(f"demo project: {root}", file=sys.stderr)
    from segstudio.gui.demo_tour import run_demo_app

    return run_demo_app(root, device=args.device, train=not args.no_train)
