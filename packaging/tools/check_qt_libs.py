"""Before `make run` on Linux: can Qt open a window here? If not, say exactly what to install.

Qt's xcb platform plugin (PySide6/Qt/plugins/platforms/libqxcb.so) needs a dozen X11 libraries
that a fresh Debian or Ubuntu may lack, and Qt then aborts with a message that names one of
them, not the package. This looks at what `ldd` cannot find for the plugin (plus
libxcb-cursor0, which Qt 6.5+ needs), maps each library to its Debian package, and prints the
one `sudo apt install ...` line. It also says when there is no display to open a window on.

Skipped on other systems and when QT_QPA_PLATFORM names a platform other than xcb (offscreen,
wayland, ...). Exit status: 0 when the window can open (or the check does not apply), 1 when
it cannot; `make run` stops then, with the message, instead of Qt aborting.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Library file name -> Debian/Ubuntu package that provides it.
PACKAGES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libICE.so.6": "libice6",
    "libSM.so.6": "libsm6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}
ALWAYS_NEEDED = ("libxcb-cursor.so.0",)  # Qt 6.5+ refuses to load xcb without it, linked or not
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def skip_reason(environ: Mapping[str, str], platform: str) -> str:
    """Why the check does not apply here ("" when it does)."""
    if not platform.startswith("linux"):
        return f"not Linux ({platform})"
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if chosen and chosen != "xcb":
        return f"QT_QPA_PLATFORM={chosen}"
    return ""


def missing_libraries(ldd_output: str) -> list[str]:
    """The library names `ldd` reports as "not found", each once, in order."""
    return list(dict.fromkeys(NOT_FOUND.findall(ldd_output)))


def packages_for(libraries: list[str]) -> tuple[list[str], list[str]]:
    """(Debian packages to install, libraries no package is known for), each once."""
    packages = list(dict.fromkeys(PACKAGES[lib] for lib in libraries if lib in PACKAGES))
    return packages, [lib for lib in libraries if lib not in PACKAGES]


def advice(libraries: list[str]) -> str:
    """What to tell the person about these missing libraries ("" when none)."""
    if not libraries:
        return ""
    packages, unknown = packages_for(libraries)
    lines = [f"Qt cannot open a window: {len(libraries)} librar{'y is' if len(libraries) == 1 else 'ies are'} "
             f"missing ({', '.join(libraries)})."]
    if packages:
        lines += ["On Debian or Ubuntu, install them with:", f"    sudo apt install {' '.join(packages)}"]
    if unknown:
        lines.append(f"Find the package of {', '.join(unknown)} with: apt-file search <name> (Fedora: dnf provides <name>).")
    return "\n".join(lines)


def xcb_plugin() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def loadable(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def find_missing(plugin: Path) -> list[str]:
    """Libraries the xcb plugin (and Qt 6.5+) need that this system cannot load."""
    try:
        output = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        output = ""  # no ldd: the libraries Qt always needs are still tried below
    missing = missing_libraries(output)
    return missing + [lib for lib in ALWAYS_NEEDED if lib not in missing and not loadable(lib)]


def main(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> int:
    if skip_reason(environ, platform):
        return 0
    plugin = xcb_plugin()
    if plugin is None:
        print("PySide6's xcb platform plugin was not found: reinstall with `make run` after `rm -rf .venv`.", file=sys.stderr)
        return 1
    message = advice(find_missing(plugin))
    if message and environ.get("WAYLAND_DISPLAY"):  # Qt may open the window through Wayland instead
        print(message + "\n(Going on: this is a Wayland session.)", file=sys.stderr)
        return 0
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        message = "\n".join(filter(None, [message, (
            "There is no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set): run SegStudio in a "
            "desktop session, or over SSH with `ssh -X`. The command line works without one: .venv/bin/segstudio --help")]))
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
