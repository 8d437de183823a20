"""Shared pytest set-up: Qt runs offscreen unless --headed; torch uses few threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--headed", action="store_true", help="show Qt windows on a real display")


def pytest_configure(config):
    if not config.getoption("--headed"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("SEGSTUDIO_NO_NETWORK", "1")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module of tiny-model tests: small work gains nothing from
    threads, and on a busy machine the extra threads spin. Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    from segstudio.core.device import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture
def reviewed_shapes_project(tmp_path):
    """6 generated 40 px images, the first 4 painted and marked done (training tests)."""
    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.project import Status

    with create_shapes_project(tmp_path / "p", count=6, size=40, labelled=4) as opened:
        for record in opened.images():
            if opened.has_masks(record.id):
                opened.set_status(record.id, Status.DONE)
        yield opened


@pytest.fixture
def unwritable(tmp_path):
    """A folder nothing may be created in: read-only for a user; /sys/kernel for root, whom
    permissions do not stop (there only creating finds out, and says so)."""
    if os.name != "posix":
        pytest.skip("permissions are checked on POSIX")
    if os.geteuid() != 0:
        tmp_path.chmod(0o555)
        yield tmp_path
        tmp_path.chmod(0o755)
    elif os.path.isdir("/sys/kernel"):
        yield Path("/sys/kernel")
    else:
        pytest.skip("no folder that root may not write into")
