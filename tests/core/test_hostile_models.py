"""Hostile model files: TorchScript that does file I/O, model.json values that size allocations.

TorchScript is code. Each archive here would create `outside/pwned.bin` if any of its code
ran; every test checks that file never appears (and that the sentinel folder is unchanged).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from segstudio.core.errors import ModelError
from segstudio.core.models import ModelBundle, import_model
from tests.data_makers.hostile import assert_refused, cli, make_outside, make_painted_project, snapshot
from tests.data_makers.hostile_models import HOSTILE, Printing, make_hostile, save_scripted

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CALLS = {"helper": lambda script: script.helper(5), "unused_method": lambda script: script.unused(),
         "setstate": lambda script: None}


@pytest.fixture
def outside(tmp_path):
    folder = make_outside(tmp_path)
    before = snapshot(folder)
    yield folder
    assert snapshot(folder) == before, "something outside the test's folder changed"


def test_the_payloads_are_real_when_nothing_guards_them(tmp_path):
    """The control: loaded and called without the guard, each archive writes its file."""
    for kind in HOSTILE:
        target = tmp_path / f"{kind}.bin"
        path = make_hostile(kind, tmp_path, target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            script = torch.jit.load(str(path))  # "setstate" writes here already
            CALLS.get(kind, lambda s: s(torch.zeros(1, 3, 8, 8)))(script)
        assert target.read_bytes() == b"p" * 5, kind


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_torchscript_model_with_file_io_is_refused_and_never_runs(tmp_path, outside, kind):
    path = make_hostile(kind, tmp_path, outside / "pwned.bin")
    with pytest.raises(ModelError, match="refused"):
        import_model(path, classes=["a", "b"])
    assert not (outside / "pwned.bin").exists()


def test_model_import_on_the_command_line_refuses_it(tmp_path, outside):
    path = make_hostile("submodule", tmp_path, outside / "pwned.bin")
    run = cli("model", "import", path, "--classes", "a,b", "--out", tmp_path / "bundle")
    assert_refused(run, "refused", "aten::from_file")
    assert not (outside / "pwned.bin").exists() and not (tmp_path / "bundle").exists()


def test_output_outside_the_allow_list_is_refused_too(tmp_path):
    with pytest.raises(ModelError, match="prim::Print"):
        import_model(save_scripted(Printing(), tmp_path / "printing.pt"), classes=["a", "b"])


def _hostile_bundle(tmp_path, outside, kind="forward"):
    """A bundle folder of arch "torchscript" whose script is hostile (as a shared project may hold)."""
    good = import_model(save_scripted(torch.nn.Conv2d(3, 3, 1), tmp_path / "good.pt"), classes=["background", "cell",
                                                                                                  "nucleus"])
    folder = good.save(tmp_path / "bundle")
    make_hostile(kind, tmp_path, outside / "pwned.bin").replace(folder / "model.torchscript.pt")
    return folder


def test_a_shared_projects_hostile_best_model_is_refused_by_predict_and_by_loading(tmp_path, outside):
    expected = make_painted_project(tmp_path / "proj")
    from segstudio.core.project import Project

    with Project.open(tmp_path / "proj") as project:
        version = project.new_model_version()
        bundle = _hostile_bundle(tmp_path, outside, "submodule")
        bundle.replace(project.models_dir / version)
        project.register_model(version, "torchscript", best=True)
    with pytest.raises(ModelError, match="refused"):
        ModelBundle.load(tmp_path / "proj" / "models" / version)  # what the app and eval do
    run = cli("predict", tmp_path / "proj", "--out", tmp_path / "maps")
    assert_refused(run, "refused", "from_file")
    assert not (outside / "pwned.bin").exists() and not (tmp_path / "maps").exists()
    with Project.open(tmp_path / "proj", readonly=True) as project:
        for image_id, label in expected.items():
            np.testing.assert_array_equal(project.read_label(image_id), label)


def test_our_own_torchscript_export_passes_the_guard(tmp_path):
    bundle = ModelBundle.create("unet", ["a", "b"], depth=2, width=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(bundle.model), str(tmp_path / "unet.pt"))
    imported = import_model(tmp_path / "unet.pt", classes=["a", "b"])
    assert imported.arch == "torchscript"


# ------------------------------------------------------------------ model.json bounds

def _bundle_json(tmp_path, **changes):
    folder = ModelBundle.create("unet", ["a", "b"], depth=2, width=4).save(tmp_path / "bundle")
    meta = json.loads((folder / "model.json").read_text())
    for key, value in changes.items():
        if key in ("width", "depth"):
            meta["options"][key] = value
        elif key == "tile":
            meta["tile"]["size"] = value
        else:
            meta[key] = value
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize(("change", "needle"), [
    ({"width": 100_000}, "width must be a whole number from 1 to 512"),
    ({"depth": 60}, "depth must be a whole number from 1 to 8"),
    ({"width": 512, "depth": 8}, "deepest stage"),
    ({"width": 4.5}, "width must be a whole number"),
    ({"tile": 10**9}, "tile size must be a whole number from 32 to 8192"),
    ({"input_channels": 10**6}, "input_channels must be a whole number from 1 to 64"),
    ({"classes": []}, "classes must be a list"),
    ({"classes": [7, 8]}, "cannot read class #0"),
    ({"format": "one"}, "format must be a whole number"),
    ({"architecture": ["unet"]}, "unknown architecture"),
], ids=["width", "depth", "deepest", "float-width", "tile", "channels", "no-classes", "class-not-name", "format",
        "arch-list"])
def test_model_json_values_are_bounded_before_anything_is_allocated(tmp_path, change, needle):
    folder = _bundle_json(tmp_path, **change)
    with pytest.raises(ModelError, match=needle.replace("(", r"\(")):
        ModelBundle.load(folder)


def test_a_model_json_nested_100000_deep_or_huge_is_a_message(tmp_path):
    folder = _bundle_json(tmp_path)
    (folder / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    assert_refused(cli("model", "info", folder), "cannot read", "model.json")
    (folder / "model.json").write_bytes(b" " * (2 << 20))
    with pytest.raises(ModelError, match="at most"):
        ModelBundle.load(folder)


def test_model_import_out_a_file_is_a_message(tmp_path):
    state = ModelBundle.create("unet", ["a", "b"], depth=2, width=4).model.state_dict()
    torch.save(state, tmp_path / "weights.pth")
    (tmp_path / "taken").write_text("a file")
    run = cli("model", "import", tmp_path / "weights.pth", "--arch", "unet", "--classes", "a,b", "--out",
              tmp_path / "taken")
    assert run.rc == 2 and "Traceback" not in run.text
    assert (tmp_path / "taken").read_text() == "a file"
