"""Shared pytest set-up: Qt runs offscreen unless --headed; torch uses few threads."""

from __future__ import annotations

import os


def pytest_addoption(parser):
    parser.addoption("--headed", action="store_true", help="show Qt windows on a real display")


def pytest_configure(config):
    if not config.getoption("--headed"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("SEGSTUDIO_NO_NETWORK", "1")
