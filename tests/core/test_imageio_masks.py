"""Mask PNGs written and read through OpenCV stay ordinary PNGs, and odd files still read or say why."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from segstudio.core.atomic import encode_png
from segstudio.core.errors import ProjectError
from segstudio.core.project import Project
from segstudio.core.project.masks import read_png


def class_map(dtype: type, top: int) -> np.ndarray:
    ids = np.random.default_rng(0).integers(0, 6, (37, 53)).astype(dtype)
    ids[::7] = top  # unlabelled rows, the largest value the dtype holds
    return ids


DEPTHS = [(np.uint8, 255, "L"), (np.uint16, 65535, "I;16")]


@pytest.mark.parametrize("dtype, top, mode", DEPTHS)
def test_masks_are_plain_grey_pngs_that_pillow_reads_and_so_do_we(tmp_path, dtype, top, mode):
    array = class_map(dtype, top)
    data = encode_png(array)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == mode
        assert np.array_equal(np.array(image), array)
    path = tmp_path / "ünïcødé" / "1.png"
    path.parent.mkdir()
    path.write_bytes(data)
    read = read_png(path, array.shape, np.dtype(dtype))
    assert read.dtype == dtype and np.array_equal(read, array)


@pytest.mark.slow  # importing torch takes seconds on a busy machine
@pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
@pytest.mark.parametrize("dtype, top, mode", DEPTHS)
def test_torchvision_reads_the_masks(dtype, top, mode):
    import torch
    from torchvision.io import ImageReadMode, decode_png

    array = class_map(dtype, top)
    data = torch.frombuffer(bytearray(encode_png(array)), dtype=torch.uint8)
    decoded = decode_png(data, ImageReadMode.UNCHANGED)
    assert decoded.shape == (1, *array.shape)
    assert np.array_equal(decoded[0].numpy().astype(dtype), array)


def test_palette_pngs_still_go_through_pillow():
    array = class_map(np.uint8, 3)
    with Image.open(io.BytesIO(encode_png(array, palette=[0, 0, 0, 255, 0, 0] * 128))) as image:
        assert image.mode == "P" and np.array_equal(np.array(image), array)


def test_a_mask_saved_by_another_tool_as_a_palette_png_reads_as_its_indices(tmp_path):
    array = class_map(np.uint8, 4)
    image = Image.fromarray(array, "L").convert("P")
    image.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10, 10, 10, 200, 90, 90, 90] + [0] * 753)
    image.save(tmp_path / "mask.png")
    assert np.array_equal(read_png(tmp_path / "mask.png", array.shape, np.dtype(np.uint8)), array)


@pytest.mark.parametrize("kept", [0.0, 0.01, 0.5, 0.9])
def test_a_cut_short_mask_is_reported_as_damaged(tmp_path, kept):
    data = encode_png(class_map(np.uint8, 255))
    path = tmp_path / "1.png"
    path.write_bytes(data[: int(len(data) * kept)])
    with pytest.raises(ProjectError, match="damaged"):
        read_png(path, (37, 53), np.dtype(np.uint8))


def test_masks_round_trip_through_a_project_in_a_non_ascii_folder(tmp_path):
    image_path = tmp_path / "photo.png"
    Image.fromarray(np.zeros((37, 53, 3), np.uint8)).save(image_path)
    with Project.create(tmp_path / "prøject 細胞", ["a", "b", "c", "d", "e", "f"]) as project:
        (record,) = project.add_images([image_path]).added
        label, source = class_map(np.uint8, 255), (class_map(np.uint8, 0) % 4).astype(np.uint8)
        project.write_masks(record.id, label, source)
        assert np.array_equal(project.read_label(record.id), label)
        assert np.array_equal(project.read_source(record.id), source)
