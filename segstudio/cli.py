"""The `segstudio` command: no sub-command opens the GUI, sub-commands run headless.

Each area of the app owns one module in `segstudio.commands` with a `register(subparsers)`
function that adds its sub-commands and sets `func` on them. Those modules import only the
standard library at module level (torch, Qt and friends are imported inside the handlers),
so `segstudio --help` and the GUI launch stay fast.

`main` is the one error boundary: any failure becomes one line on stderr and exit code 2
(commands return 1 themselves for a partial success), with the traceback only under
`--debug`. A first word that is neither a command nor an existing path is a typo, not a
project to open: it never starts Qt.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence

from segstudio import __version__
from segstudio.core.errors import SegStudioError

# One module per area; each registers its own sub-commands.
COMMAND_MODULES: tuple[str, ...] = (
    "segstudio.commands.project",
    "segstudio.commands.bench",
    "segstudio.commands.exchange",
    "segstudio.commands.train",
    "segstudio.commands.versions",
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
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
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
    debug = "--debug" in argv
    try:
        parser = build_parser()
        commands = _command_names(parser)
        if argv and not argv[0].startswith("-") and argv[0] not in commands:
            _refuse_typo(argv[0], commands)
            argv = ["open", *argv]  # `segstudio PROJECT` opens that project
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        return int((func or gui_main)(args) or 0)
    except SegStudioError as exc:
        return _fail(str(exc), debug)
    except KeyboardInterrupt:
        print("segstudio: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _fail(f"{exc.strerror or exc}{where}", debug)
    except UnicodeDecodeError as exc:
        return _fail(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8", debug)
    except sqlite3.Error as exc:
        return _fail(f"the project database failed: {exc}", debug)
    except MemoryError:
        return _fail("not enough memory for this (an input may be larger than it claims)", debug)
    except Exception as exc:  # noqa: BLE001 - the boundary: a message, never a traceback
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the details)", debug)


def _fail(message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"segstudio: error: {_printable(message)}", file=sys.stderr)
    return 2


def _printable(text: str) -> str:
    """File names that are not valid UTF-8 come back as surrogates: show them escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _refuse_typo(word: str, commands: set[str]) -> None:
    if os.path.lexists(word):
        return
    close = difflib.get_close_matches(word, sorted(commands), n=1)
    hint = f"; did you mean `segstudio {close[0]}`?" if close else "; see `segstudio --help`"
    raise SegStudioError(f"{word!r} is neither a command nor an existing project folder{hint}")


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
    _require_display()
    from segstudio.gui.app import run_app

    project = getattr(args, "project", None) if args is not None else None
    device = getattr(args, "device", None) if args is not None else None
    return run_app(project=project, device=device)


def _require_display() -> None:
    """Qt aborts the whole process without a display; say so instead (Linux and BSD)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")) and not any(
            os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise SegStudioError("no display to open the app on (DISPLAY is not set); the commands "
                             "(`segstudio --help`) work without one")
