"""Project sub-commands: new, add, info (filled in with the project store)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Nothing registered yet: the project commands land with the project store."""
