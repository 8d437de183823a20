"""argparse types that refuse values no command can use (a 0-pixel patch, a NaN learning rate)
at the command line, with argparse's own message and exit code 2."""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type, low: float, high: float = math.inf, low_open: bool = False):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
        above = f"above {low}" if low_open else f"{low} or more"
        upto = f" and at most {high}" if math.isfinite(high) else ""
        raise argparse.ArgumentTypeError(f"{text} must be a finite number, {above}{upto}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, 1)


def non_negative_int(text: str) -> int:
    return _number(text, int, 0)


def positive_float(text: str) -> float:
    return _number(text, float, 0, low_open=True)


def non_negative_float(text: str) -> float:
    return _number(text, float, 0)


def tile_size(text: str) -> int:
    """A sliding-window tile: one forward pass over tile x tile pixels, so it is bounded."""
    return _number(text, int, 16, 8192)
