"""The bundled demo as a project: copied into a writable folder once, reopened afterwards.

The demo (resources/demo, see its NOTICE.md) holds 14 fluorescence crops of BBBC007v1; three come
with reviewed masks (background / nucleus / nucleus boundary), the other eleven are for the model
to propose and the person to correct. Both `segstudio demo` and the window's "Open the demo" use
this module, so preparing it never needs the GUI or the command line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from segstudio.core.errors import ProjectError

DEMO_SETTING = "demo"  # project setting that marks a folder as made by `prepare_demo`


def default_demo_dir() -> Path:
    """A per-user data folder: ~/.local/share/SegStudio/demo, ~/Library/Application Support/..., %LOCALAPPDATA%\\..."""
    import platformdirs

    return platformdirs.user_data_path("SegStudio", appauthor=False) / "demo"


def load_manifest() -> dict[str, Any]:
    from segstudio.resources_path import resource_path

    path = resource_path("demo", "demo.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"the bundled demo is damaged ({path}: {exc}); reinstall SegStudio") from exc


def prepare_demo(target: Path, *, reset: bool = False) -> Path:
    """Make `target` the demo project (or keep the one already there) and return its path.

    Refuses to touch a folder that holds anything else than a demo made by this command.
    """
    from segstudio.core.project import Project

    target = Path(target).expanduser().absolute()
    if Project.is_project(target):
        if not _is_demo(target, for_reset=reset):
            raise ProjectError(f"{target} holds a SegStudio project that is not the demo; choose another --into folder")
        if not reset:
            _add_missing_settings(target)
            return target
        shutil.rmtree(target)
    elif target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProjectError(f"{target} exists and is not empty; choose another --into folder")
    _create_demo(target)
    return target


def _is_demo(root: Path, *, for_reset: bool) -> bool:
    """Whether `root` was made by this command. Before a reset the project is opened for
    writing, so a demo that is open in a window is refused (ProjectLockedError), not deleted."""
    from segstudio.core.project import Project

    with Project.open(root, readonly=not for_reset) as project:
        return bool(project.get_setting(DEMO_SETTING))


def _create_demo(root: Path) -> None:
    import numpy as np
    from PIL import Image

    from segstudio.core.project import Project, Source
    from segstudio.resources_path import resource_path

    manifest = load_manifest()
    demo_dir = resource_path("demo")
    classes = manifest["classes"]
    try:
        with Project.create(root, [c["name"] for c in classes], colors=[tuple(c["color"]) for c in classes]) as project:
            report = project.add_images([demo_dir / image["file"] for image in manifest["images"]], copy=True)
            if report.failed:
                raise ProjectError(f"the bundled demo images could not be added: {report.failed}")
            by_name = {record.name: record for record in project.images()}
            for image in manifest["images"]:
                if "mask" not in image:
                    continue
                record = by_name[Path(image["file"]).name]
                with Image.open(demo_dir / image["mask"]) as mask:
                    label = np.array(mask, dtype=np.uint8)
                project.write_masks(record.id, label, np.full(label.shape, Source.HUMAN, np.uint8))
                project.mark_done(record.id)
            project.set_setting(DEMO_SETTING, {"title": manifest["title"], "attribution": manifest["attribution"]})
            _store_demo_settings(project)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # a half-made demo would be refused next time
        raise


def demo_settings():
    """Training settings that give visible proposals within about a minute on a 2-core CPU.

    A small U-Net (3 levels, 16 channels) learns nuclei from the three reviewed crops in a few
    dozen steps; 96-pixel patches keep each step short. They are stored in the demo project, so
    the docks, `segstudio train` and the headless demo all train the same model.
    """
    from segstudio.core.training.settings import TrainingSettings

    return TrainingSettings(arch="unet", model_options={"depth": 3, "width": 16}, batch_size=8, lr=3e-3,
                            schedule_epochs=30, patch=96)


def _store_demo_settings(project) -> None:
    import dataclasses

    from segstudio.core.training.settings import KEY

    project.set_setting(KEY, dataclasses.asdict(demo_settings()))


def _add_missing_settings(root: Path) -> None:
    """A demo made before training settings lived in the project gets the demo's own."""
    from segstudio.core.errors import ProjectLockedError
    from segstudio.core.project import Project
    from segstudio.core.training.settings import KEY

    try:
        with Project.open(root) as project:
            if project.get_setting(KEY) is None:
                _store_demo_settings(project)
    except ProjectLockedError:
        pass  # open in a window: it keeps training with what it has



def demo_available() -> bool:
    """Whether this installation carries the demo (a trimmed build may leave it out)."""
    from segstudio.resources_path import resource_path

    try:
        return resource_path("demo", "demo.json").is_file()
    except FileNotFoundError:
        return False
