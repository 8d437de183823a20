"""Where the bundled resources (demo project, icons, licences) live, installed or not.

In the source tree they sit in `<repo>/resources`; a wheel (hatch force-include) and the
PyInstaller bundle put the same folder at `segstudio/resources`. Code asks for
`resource_path("demo", "demo.json")` and never cares which.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE_DIR / "resources", _PACKAGE_DIR.parent / "resources")


def resources_root() -> Path:
    """The folder holding demo/, icons/ and licenses/; FileNotFoundError if none is there."""
    for candidate in _CANDIDATES:
        if (candidate / "icons").is_dir() or (candidate / "demo").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in _CANDIDATES)
    raise FileNotFoundError(f"SegStudio's resources are missing (looked in {looked}); reinstall SegStudio")


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. resource_path("icons", "segstudio.svg")."""
    return resources_root().joinpath(*parts)
