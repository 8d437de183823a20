"""Property tests: raster formats give back any label map exactly, however ragged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segstudio.core.formats import FORMATS
from segstudio.core.formats.base import UNLABELLED, ExportClass, ExportContext, ExportSample, ImportSample
from segstudio.core.formats.coco import region_annotations

CLASSES = [ExportClass(0, "background", (0, 0, 0)), ExportClass(1, "cell", (255, 0, 0)),
           ExportClass(2, "nucleus", (0, 255, 0))]
labels = st.integers(3, 24).flatmap(lambda h: st.integers(3, 24).flatmap(
    lambda w: arrays(np.uint8, (h, w), elements=st.sampled_from([0, 1, 2, 255]))))


@pytest.mark.parametrize("name", [name for name, spec in FORMATS.items() if spec.raster])
@settings(max_examples=15, deadline=None)
@given(label=labels)
def test_raster_formats_round_trip_any_label_map_exactly(name, label):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        image = root / "source" / "picture.png"
        image.parent.mkdir()
        Image.fromarray(np.zeros((*label.shape, 3), np.uint8)).save(image)
        writer = FORMATS[name].exporter(ExportContext(root / "out", CLASSES))
        writer.add(ExportSample("picture", image, label, "val", 255))
        writer.finish()
        (sample,) = list(FORMATS[name].importer(root / "out"))
        assert isinstance(sample, ImportSample), sample
        np.testing.assert_array_equal(sample.label, np.where(label == 255, UNLABELLED, label.astype(np.int32)))
        assert sample.split == "val"


@settings(max_examples=30, deadline=None)
@given(label=labels)
def test_coco_regions_are_disjoint_and_cover_every_labelled_pixel(label):
    from pycocotools import mask as mask_utils

    covered = np.zeros(label.shape, np.int32)
    for class_id, rle, area, bbox in region_annotations(label, [0, 1, 2]):
        mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        assert mask.sum() == area and (label[mask == 1] == class_id).all()
        ys, xs = np.nonzero(mask)
        assert bbox == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        covered += mask
    np.testing.assert_array_equal(covered, (label != 255).astype(np.int32))
