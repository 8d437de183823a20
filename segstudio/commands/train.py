"""`segstudio train` and `segstudio eval`, headless.

`train` runs the same trainer as the app (keep only a surely better model, patience, warm start)
with the project's own training settings (segstudio.core.training.settings: the ones the docks
show) and a progress bar; options given here change them for this run only. Under
`torchrun --nproc_per_node N` it trains with DistributedDataParallel and only rank 0 writes to
the project. `eval` scores a model version on a split of the reviewed pixels.
Heavy imports happen inside the handlers so that `segstudio --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segstudio.commands.arguments import non_negative_float, non_negative_int, positive_float, positive_int


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a model on the project's reviewed pixels",
        description="Train on every reviewed pixel (accepted or painted); keep a new model version only "
        "when it is surely better than the best on the same validation images. Settings not given here "
        "come from the project (the ones the app's docks show). Runs under `torchrun --nproc_per_node N` too.")
    train.add_argument("project", type=Path, help="project folder")
    train.add_argument("--arch", help="architecture for a new model (default: the project's setting)")
    limit = train.add_mutually_exclusive_group()
    limit.add_argument("--epochs", type=positive_int, help="train at most N epochs")
    limit.add_argument("--minutes", type=positive_float, help="train at most M minutes")
    train.add_argument("--steps", type=positive_int, help="train at most N optimiser steps")
    train.add_argument("--device", help="auto (default), cuda, cuda:N, mps or cpu")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same weights")
    train.add_argument("--patience", type=positive_int, help="epochs without a kept model before stopping (project: 10)")
    train.add_argument("--batch-size", type=positive_int, help="(project setting: 8)")
    train.add_argument("--patch", type=positive_int, help="training patch side in pixels (project setting: 128)")
    train.add_argument("--lr", type=positive_float, help="AdamW learning rate (project setting: 1e-3)")
    train.add_argument("--loss", choices=("ce", "ce+dice", "focal"))
    train.add_argument("--class-weighting", choices=("frequency", "none"))
    train.add_argument("--correction-weight", type=non_negative_float,
                       help="loss weight of pixels a person painted over a proposal (project setting: 2)")
    train.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="architecture option for a new model, e.g. --option width=16 --option depth=3 "
                       "(replaces the project's options)")
    train.add_argument("--fresh", action="store_true", help="do not warm-start from the best model")
    train.add_argument("--threads", type=positive_int, help="torch CPU threads")
    train.add_argument("--workers", type=non_negative_int, default=0, help="data loader worker processes (default 0)")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "eval", help="score a model on the reviewed pixels of a split",
        description="Per-class IoU, Dice, precision, recall and boundary F-score, plus their means.")
    evaluate.add_argument("project", type=Path, help="project folder")
    evaluate.add_argument("--model", help="model version (default: the best)")
    evaluate.add_argument("--split", choices=("val", "train", "test", "all"), default="val")
    evaluate.add_argument("--device", help="auto (default), cuda, mps or cpu")
    evaluate.add_argument("--tolerance", type=non_negative_int, default=2, help="boundary F-score tolerance in pixels")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.set_defaults(func=run_eval)


def parse_options(items: list[str]) -> dict:
    from segstudio.core.errors import SegStudioError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SegStudioError(f"--option takes KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run_train(args: argparse.Namespace) -> int:
    import torch

    from segstudio.core.device import pick_device
    from segstudio.core.progress import drive, drive_with_tqdm
    from segstudio.core.project import Project
    from segstudio.core.training.ddp import DistributedContext
    from segstudio.core.training.settings import load_settings
    from segstudio.core.training.trainer import train

    context = DistributedContext.from_env(pick_device(args.device))
    try:
        with Project.open(args.project, readonly=not context.is_main) as project:
            config = _config(load_settings(project), args)
            if context.enabled:
                context.barrier()  # rank 0 holds the project lock before anyone trains
            generator = train(project, config, distributed=context)
            if context.is_main:
                result = drive_with_tqdm(generator, "training", on_event=_report)
            else:
                result = drive(generator)
            # every rank done with its collectives before any tears the group down: without it
            # a rank could abort at exit ("terminate called without an active exception", gloo)
            context.barrier()
    finally:
        context.shutdown()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if context.is_main:
        best = f"kept {', '.join(result.kept_versions)}" if result.kept_versions else "no better model kept"
        print(f"{result.steps} steps, {result.epochs} epochs, ended by {result.reason}; {best}; "
              f"best validation mIoU {result.best_miou:.4f}")
    return 0


def _config(settings, args: argparse.Namespace):
    """The project's settings, with the options given on the command line for this run."""
    import dataclasses

    given = {"arch": args.arch, "patience": args.patience, "batch_size": args.batch_size, "patch": args.patch,
             "lr": args.lr, "loss": args.loss, "class_weighting": args.class_weighting,
             "correction_weight": args.correction_weight, "model_options": parse_options(args.option) or None}
    settings = dataclasses.replace(settings, **{key: value for key, value in given.items() if value is not None})
    return settings.train_config(epochs=args.epochs, minutes=args.minutes, max_steps=args.steps, seed=args.seed,
                                 device=args.device, threads=args.threads, num_workers=args.workers,
                                 warm_start=not args.fresh)


def _report(event: object) -> None:
    from segstudio.core.training.events import CheckpointEvent, LabelFlag, ValidationEvent

    if isinstance(event, ValidationEvent):
        mark = " (better)" if event.improved else ""
        print(f"\nepoch {event.epoch}: validation mIoU {event.miou:.4f}{mark}", file=sys.stderr)
    elif isinstance(event, LabelFlag):
        print(f"\n{event.message}", file=sys.stderr)
    elif isinstance(event, CheckpointEvent):
        print(f"kept model {event.version} (mIoU {event.miou:.4f})", file=sys.stderr)


def run_eval(args: argparse.Namespace) -> int:
    from segstudio.core.metrics import format_table
    from segstudio.core.project import Project
    from segstudio.core.training.validation import evaluate_project

    with Project.open(args.project, readonly=True) as project:
        scores, bundle, count = evaluate_project(project, version=args.model, split=args.split,
                                                 device=args.device, tolerance=args.tolerance)
        if args.json:
            print(json.dumps({"model": bundle.version, "split": args.split, "images": count,
                              **scores.as_dict(bundle.class_names)}, indent=2))
        else:
            print(f"model {bundle.version} on {count} {args.split} image(s), reviewed pixels only")
            print(format_table(scores, bundle.class_names))
    return 0
