"""The core runs without a screen: it never imports Qt, checked two ways."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import segstudio.core

REPO = Path(__file__).resolve().parents[2]

BLOCK_QT = """
import importlib, importlib.abc, pkgutil, sys

class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph"}:
            raise ImportError(f"{name} is blocked: segstudio.core must not import Qt")
        return None

sys.meta_path.insert(0, BlockQt())
import segstudio.core
names = [m.name for m in pkgutil.walk_packages(segstudio.core.__path__, "segstudio.core.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_core_module_imports_with_qt_unimportable():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_QT], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    expected = len(list(pkgutil.walk_packages(segstudio.core.__path__, "segstudio.core.")))
    assert int(result.stdout.strip().splitlines()[-1]) == expected


def test_import_linter_contract_holds():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([lint], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout
