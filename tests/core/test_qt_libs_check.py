"""packaging/tools/check_qt_libs.py, run by `make run`: missing Qt xcb libraries -> the Debian packages to install."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "tools" / "check_qt_libs.py"
spec = importlib.util.spec_from_file_location("check_qt_libs", SCRIPT)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f10)
\tlibxcb-cursor.so.0 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f20)
\tlibxcb-icccm.so.4 => not found
\tlibfoo-unheard.so.3 => not found
"""


def test_the_libraries_ldd_cannot_find_are_listed_once_in_order():
    assert check.missing_libraries(LDD) == ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libxcb-icccm.so.4",
                                            "libfoo-unheard.so.3"]
    assert check.missing_libraries("\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n") == []


def test_each_missing_library_maps_to_its_debian_package():
    packages, unknown = check.packages_for(["libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libglib-2.0.so.0",
                                            "libgthread-2.0.so.0", "libfoo-unheard.so.3"])
    assert packages == ["libxcb-cursor0", "libxkbcommon-x11-0", "libglib2.0-0"]
    assert unknown == ["libfoo-unheard.so.3"]
    assert all(name.startswith("lib") and name.islower() for name in check.PACKAGES.values())


def test_the_advice_is_one_apt_line_and_names_what_it_cannot_map():
    text = check.advice(check.missing_libraries(LDD))
    assert "    sudo apt install libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4\n" in text
    assert "4 libraries are missing" in text and "apt-file search" in text and "libfoo-unheard.so.3" in text
    assert check.advice([]) == ""


@pytest.mark.parametrize(("environ", "platform", "skipped"), [
    ({}, "linux", False), ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True), ({"QT_QPA_PLATFORM": "wayland"}, "linux", True),
    ({}, "darwin", True), ({}, "win32", True),
])
def test_it_is_skipped_off_linux_and_for_other_qt_platforms(environ, platform, skipped):
    assert bool(check.skip_reason(environ, platform)) == skipped
    if skipped:
        assert check.main(environ, platform) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_without_a_display_make_run_stops_with_a_reason(capsys):
    assert check.main({}, "linux") == 1  # whatever the libraries, no window opens without a display
    err = capsys.readouterr().err
    assert "There is no display" in err and "segstudio --help" in err
    plugin = check.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    assert all(name.endswith(".so") or ".so." in name for name in check.find_missing(plugin))
