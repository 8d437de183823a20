"""The `segstudio` command: no sub-command opens the GUI, sub-commands run headless.

Each area of the app owns one module in `segstudio.commands` with a `register(subparsers)`
function that adds its sub-commands and sets `func` on them. Those modules import only the
standard library at module level (torch, Qt and friends are imported inside the handlers),
so `segstudio --help` and the GUI launch stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from segstudio import __version__
from segstudio.core.errors import SegStudioError

# One module per area; each registers its own sub-commands.
COMMAND_MODULES: tuple[str, ...] = (
    "segstudio.commands.project",
    "segstudio.commands.bench",
    "segstudio.commands.exchange",
    "segstudio.commands.train",
    "segstudio.commands.demo",
    "segstudio.commands.predict",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="Human-in-the-loop semantic segmentation. "
        "Without a sub-command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"segstudio {__version__}")
    parser.add_argument("--device", help="compute device for the app: cuda, mps or cpu")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    open_parser = subparsers.add_parser(
        "open", help="open the app on a project folder (same as `segstudio PROJECT`)"
    )
    open_parser.add_argument("project", nargs="?", help="project folder")
    open_parser.add_argument("--device", help="compute device: cuda, mps or cpu")
    open_parser.set_defaults(func=gui_main)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    subparsers.choices["demo"].set_defaults(open_window=demo_window)  # commands never import the GUI
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = _command_names(parser)
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        argv = ["open", *argv]  # `segstudio PROJECT` opens that project
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        return gui_main(args)
    try:
        return int(func(args) or 0)
    except SegStudioError as exc:
        print(f"segstudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segstudio: interrupted", file=sys.stderr)
        return 130


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - argparse has no public API
        return set(action.choices)
    return set()


def demo_window(root, *, device: str | None, train: bool) -> int:
    """The demo in the window, with its tour (for `segstudio demo`)."""
    from segstudio.gui.demo_tour import run_demo_app

    return run_demo_app(root, device=device, train=train)


def gui_main(args: argparse.Namespace | None = None) -> int:
    """Open the desktop app (imported lazily: the headless commands never load Qt)."""
    from segstudio.gui.app import run_app

    project = getattr(args, "project", None) if args is not None else None
    device = getattr(args, "device", None) if args is not None else None
    return run_app(project=project, device=device)
