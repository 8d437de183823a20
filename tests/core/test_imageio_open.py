"""open_for_editing reads an image and both of its masks (in parallel) and fails as each read does."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError, ProjectError
from segstudio.core.project import IGNORE, Project
from segstudio.core.project.opening import open_for_editing


@pytest.fixture()
def project(tmp_path):
    picture = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 30 x 40, shown turned: 40 high, 30 wide
    Image.fromarray(picture).save(tmp_path / "turned.jpg", exif=exif.tobytes())
    Image.fromarray(picture).save(tmp_path / "plain.png")
    with Project.create(tmp_path / "project", ["background", "cell", "nucleus"]) as project:
        project.add_images([tmp_path / "turned.jpg", tmp_path / "plain.png"])
        yield project


def ids(project) -> dict[str, int]:
    return {record.name: record.id for record in project.images()}


def test_opens_the_upright_image_with_its_stored_masks(project):
    image_id = ids(project)["turned.jpg"]
    label = np.random.default_rng(1).integers(0, 3, (40, 30), dtype=np.uint8)
    label[:5] = IGNORE
    source = np.where(label == IGNORE, 0, 3).astype(np.uint8)
    project.write_masks(image_id, label, source)
    opened = open_for_editing(project, image_id)
    assert opened.image_id == image_id and opened.image.display.shape == (40, 30, 3)
    assert np.array_equal(opened.label, label) and np.array_equal(opened.source, source)


def test_an_image_without_masks_opens_unlabelled(project):
    opened = open_for_editing(project, ids(project)["plain.png"])
    assert opened.image.display.shape == (30, 40, 3)
    assert (opened.label == IGNORE).all() and not opened.source.any()


def test_a_damaged_image_or_mask_raises_its_own_error(project):
    image_id = ids(project)["plain.png"]
    (project.labels_dir / f"{image_id}.png").parent.mkdir(parents=True, exist_ok=True)
    (project.labels_dir / f"{image_id}.png").write_bytes(b"not a png")
    with pytest.raises(ProjectError, match="damaged"):
        open_for_editing(project, image_id)
    project.image(image_id).path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ImageReadError):
        open_for_editing(project, image_id)


def test_masks_come_from_the_autosaver_when_given_edits_still_in_the_journal(project):
    from segstudio.core.autosave import Autosaver
    from segstudio.core.document import MaskDocument

    image_id = ids(project)["plain.png"]
    doc = MaskDocument(image_id, project.read_label(image_id), project.read_source(image_id))
    saver = Autosaver(project, doc)
    doc.paint_segment((5, 5), (30, 5), 2, 1)  # one finished step, journalled, not folded
    saver.flush()
    assert not project.has_masks(image_id)
    opened = open_for_editing(project, image_id, read_masks=saver.read_masks)
    assert np.array_equal(opened.label, doc.label) and np.array_equal(opened.source, doc.source)
    assert (opened.label == 1).any()
