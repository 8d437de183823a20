"""A 16k x 16k image opens through the core, its label map can be painted, autosaved, folded
into labels/ and read back (docs/architecture.md budgets: 16k must open; Qt's 256 MB limit must not bite)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from segstudio.core.autosave import Autosaver
from segstudio.core.document import MaskDocument
from segstudio.core.imageio import probe_image, read_image
from segstudio.core.journal import ProjectJournal
from segstudio.core.project import IGNORE, Project, Source

SIDE = 16384


@pytest.mark.slow
def test_a_16k_image_opens_and_its_labels_are_painted_saved_and_read_back(tmp_path):
    timings = {}
    start = time.perf_counter()
    ramp = (np.arange(SIDE, dtype=np.uint32) * 7 // 64).astype(np.uint8)
    pixels = np.add.outer(ramp, ramp).astype(np.uint8)  # 256 MB grey image, a diagonal ramp
    path = tmp_path / "huge.png"
    Image.fromarray(pixels).save(path, compress_level=1)
    timings["write png"] = time.perf_counter() - start

    info = probe_image(path)
    assert (info.width, info.height) == (SIDE, SIDE)
    start = time.perf_counter()
    loaded = read_image(path)
    timings["read_image"] = time.perf_counter() - start
    assert loaded.display.shape == (SIDE, SIDE, 3) and loaded.display.dtype == np.uint8
    assert loaded.raw.shape[:2] == (SIDE, SIDE)
    np.testing.assert_array_equal(loaded.raw[::4099, ::4099, 0], pixels[::4099, ::4099])
    del loaded, pixels

    with Project.create(tmp_path / "proj", ["background", "cell"]) as project:
        (record,) = project.add_images([path]).added
        assert (record.width, record.height) == (SIDE, SIDE)
        doc = MaskDocument(record.id, project.read_label(record.id), project.read_source(record.id))
        saver = Autosaver(project, doc)
        start = time.perf_counter()
        doc.paint_segment((100.0, 200.0), (16000.0, 15000.0), 25, 1)  # corner to corner
        doc.paint_segment((SIDE - 40.0, 30.0), (SIDE - 10.0, 30.0), 8, 0)  # at the right edge
        timings["paint two strokes"] = time.perf_counter() - start
        start = time.perf_counter()
        saver.flush()
        timings["journal flush"] = time.perf_counter() - start
        assert ProjectJournal(project).image_ids() == [record.id]
        start = time.perf_counter()
        saver.close()  # folds: replay onto labels/, atomic PNG writes, journal deleted
        timings["fold into labels/"] = time.perf_counter() - start
        assert ProjectJournal(project).image_ids() == []

        start = time.perf_counter()
        label, source = project.read_label(record.id), project.read_source(record.id)
        timings["read masks back"] = time.perf_counter() - start
        assert label.shape == (SIDE, SIDE)
        assert label[7600, 8050] == 1 and source[7600, 8050] == Source.HUMAN  # mid-stroke
        assert label[30, SIDE - 20] == 0 and label[0, SIDE - 1] == IGNORE
        assert np.array_equal(label, doc.label) and np.array_equal(source, doc.source)
    print("16k x 16k:", ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))
