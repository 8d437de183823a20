"""Writing a kept model into the project so that a stop or a crash never leaves a broken version.

The bundle is written into a hidden temporary folder beside its final place and renamed when
complete; only then is it registered in the project database. A crash leaves at most a hidden
`.vNNNN.partial-*` folder, which the next run removes.
"""

from __future__ import annotations

import os
import shutil
import uuid

from segstudio.core.errors import SaveError

PARTIAL_MARK = ".partial-"


def save_new_version(project, bundle, metrics: dict):
    """Save `bundle` as the project's next model version, marked best. Returns its ModelRecord."""
    version = project.new_model_version()
    final = project.models_dir / version
    temporary = project.models_dir / f".{version}{PARTIAL_MARK}{uuid.uuid4().hex[:8]}"
    bundle.version = version
    bundle.metrics = metrics
    try:
        bundle.save(temporary)
        os.rename(temporary, final)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise SaveError(f"could not save model {version} in {project.models_dir}: {exc}") from exc
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return project.register_model(version, bundle.arch, metrics, best=True)


def remove_partial_versions(project) -> None:
    if not project.models_dir.is_dir():
        return
    for path in project.models_dir.iterdir():
        if path.is_dir() and path.name.startswith(".") and PARTIAL_MARK in path.name:
            shutil.rmtree(path, ignore_errors=True)
