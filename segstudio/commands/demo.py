"""`segstudio demo`: the first ten minutes. Copy the bundled nuclei demo into a writable folder
(segstudio.core.workspace.demo), open it, and start training at once so proposals appear on the
unreviewed images. Running the command again reopens the same project, so work done in the demo
is kept; `--reset` starts it over. The window itself is opened by `segstudio.cli`, which hands
this command an `open_window` function: commands never import the GUI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segstudio.core.errors import ProjectError
from segstudio.core.workspace.demo import default_demo_dir, prepare_demo


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


def run_headless(root: Path, *, minutes: float, device: str | None, train: bool) -> int:
    """Train for `minutes`, let the ladder pick a model, propose on the unreviewed images, print what happened."""
    from segstudio.core import ladder
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.ladder_round import instant_round, refresh_unreviewed
    from segstudio.core.progress import drive_with_tqdm
    from segstudio.core.project import Project, Source, Status
    from segstudio.core.training.settings import load_settings
    from segstudio.core.training.trainer import train as train_project

    with Project.open(root) as project:
        drive_with_tqdm(instant_round(project, InstantTier.for_project(project), device=device), "instant classifier")
        if train:
            config = load_settings(project).train_config(minutes=minutes, device=device)
            result = drive_with_tqdm(train_project(project, config), "training")
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
    return args.open_window(root, device=args.device, train=not args.no_train)
