"""VOC and Cityscapes written by datumaro's exporters and in the official and CVAT layouts import
to what the peers' readers say; our exports read back exactly through datumaro and torchvision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.test_formats_data import expected_export, make_project
from data_makers.photos import photo, save_photo
from segstudio.core.errors import FormatError
from segstudio.core.formats import ExportOptions, export_dataset
from segstudio.core.formats.cityscapes import CityscapesReader
from segstudio.core.formats.voc import VocReader
from segstudio.core.progress import drive
from segstudio.core.project import Project

datumaro = pytest.importorskip("datumaro")
NAMES = ["background", "road", "ego vehicle", "person"]


def scene(index: int) -> np.ndarray:
    label = np.zeros((64, 96), dtype=np.uint8)
    label[30:, :] = 1
    label[50:, 20 + index:60] = 2
    label[10:40, 70:80] = 3
    return label


def datumaro_masks(count: int = 2):
    from datumaro.components.annotation import Mask
    from datumaro.components.dataset import Dataset
    from datumaro.components.dataset_base import DatasetItem
    from datumaro.components.media import Image as DmImage

    items = [DatasetItem(id=f"city_{i:06d}_000019", subset=("train", "val")[i % 2],
                         media=DmImage.from_numpy(photo(64, 96, "coffee", top=i * 30)[..., ::-1].copy()),
                         annotations=[Mask((scene(i) == c).astype(np.uint8), label=c) for c in range(1, 4)])
             for i in range(count)]
    return Dataset.from_iterable(items, categories=[n.replace(" ", "_") for n in NAMES])


def datumaro_semantic(folder: Path, fmt: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """item id -> class map (0 where datumaro has no mask), label names: datumaro's own reading."""
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    dataset = Dataset.import_from(str(folder), fmt)
    names = [c.name for c in dataset.categories()[AnnotationType.label]]
    result = {}
    for item in dataset:
        masks = [a for a in item.annotations if a.type == AnnotationType.mask]
        label = np.zeros(item.media.data.shape[:2], dtype=np.int32)
        for mask in masks:
            label[mask.image.astype(bool)] = mask.label
        result[Path(item.id).name] = label
    return result, names


@pytest.mark.parametrize("exporter", ["voc_segmentation", "voc"])
def test_datumaro_voc_exports_import_exactly(exporter, tmp_path):
    datumaro_masks().export(str(tmp_path / "voc"), exporter, save_media=True)
    reader = VocReader(tmp_path / "voc")
    assert reader.class_names()[:4] == [n.replace(" ", "_") for n in NAMES]
    samples = list(reader)
    assert len(samples) == 2
    for sample in samples:
        index = int(sample.image_path.stem.split("_")[1])
        np.testing.assert_array_equal(sample.label, scene(index))


def test_datumaro_cityscapes_export_imports_exactly(tmp_path):
    datumaro_masks().export(str(tmp_path / "cs"), "cityscapes", save_media=True)
    reader = CityscapesReader(tmp_path / "cs")
    read, names = datumaro_semantic(tmp_path / "cs", "cityscapes")
    assert reader.class_names() == names
    samples = list(reader)
    assert len(samples) == 2
    for sample in samples:
        stem = sample.annotation.name.removesuffix("_gtFine_labelIds.png")
        np.testing.assert_array_equal(sample.label, read[stem])
        np.testing.assert_array_equal(sample.label, scene(int(stem.split("_")[1])))


def official_cityscapes(root: Path, kinds: tuple[str, ...], images: str = "leftImg8bit") -> None:
    """The official download's naming: <images>/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    and gtFine/<split>/<city>/..._gtFine_<kind>.png (label ids from the 34-label table; instance
    ids are label * 1000 + instance for things)."""
    for index, split in enumerate(("train", "val")):
        stem = f"aachen_{index:06d}_000019"
        save_photo(root / images / split / "aachen" / f"{stem}_leftImg8bit.png", 64, 96, "coffee")
        label = np.full((64, 96), 7, dtype=np.uint8)  # road
        label[:20] = 23  # sky
        label[30:50, 10:30] = 26  # car
        instances = label.astype(np.uint16)  # 16-bit PNGs, as in the download
        instances[30:50, 10:20] = 26001
        instances[30:50, 20:30] = 26002
        train = np.full_like(label, 255)
        train[label == 7], train[label == 23], train[label == 26] = 0, 10, 13
        gt = root / "gtFine" / split / "aachen"
        gt.mkdir(parents=True, exist_ok=True)
        files = {"labelIds": label, "instanceIds": instances, "labelTrainIds": train}
        for kind in kinds:
            Image.fromarray(files[kind]).save(gt / f"{stem}_gtFine_{kind}.png")


@pytest.mark.slow  # the first case imports torchvision
@pytest.mark.parametrize("kinds, images, first_class", [
    (("labelIds", "instanceIds"), "leftImg8bit", "unlabeled"),
    (("instanceIds",), "leftImg8bit", "unlabeled"),
    (("labelTrainIds",), "leftImg8bit", "road"),
    (("labelIds",), "imgsFine/leftImg8bit", "unlabeled"),  # CVAT's Cityscapes export
])
def test_official_and_cvat_cityscapes_layouts_import(kinds, images, first_class, tmp_path):
    official_cityscapes(tmp_path, kinds, images)
    reader = CityscapesReader(tmp_path)
    assert reader.class_names()[0] == first_class
    samples = list(reader)
    assert len(samples) == 2 and all(hasattr(s, "label") for s in samples), samples
    names = reader.class_names()
    label = samples[0].label
    assert names[label[0, 0]] == "sky" and names[label[40, 15]] == "car" and names[label[60, 60]] == "road"
    if images == "leftImg8bit" and "labelIds" in kinds:  # the layout is where torchvision looks for it
        from torchvision.datasets import Cityscapes

        dataset = Cityscapes(str(tmp_path), split="train", mode="fine", target_type=["semantic", "instance"])
        _, (semantic, instance) = dataset[0]
        np.testing.assert_array_equal(np.array(semantic), label)


def test_a_cityscapes_folder_without_masks_names_what_it_expected(tmp_path):
    official_cityscapes(tmp_path, ())
    with pytest.raises(FormatError, match=r"_gtFine_labelIds.png or .*_gtFine_instanceIds.png; found none"):
        CityscapesReader(tmp_path)


@pytest.fixture(scope="module")
def spaced_export(tmp_path_factory):
    """A project whose classes have spaces and no black, with images already named *_leftImg8bit."""
    root = tmp_path_factory.mktemp("cs-export")
    project = Project.create(root / "project", NAMES)
    for index in range(2):
        path = save_photo(root / "src" / f"aachen_{index:06d}_000019_leftImg8bit.png", 64, 96, "coffee", top=index * 20)
        record = project.add_images([path]).added[0]
        project.write_masks(record.id, scene(index), np.full((64, 96), 3, np.uint8))
        project.set_split(record.id, ("train", "val")[index])
        project.set_status(record.id, "done")
    drive(export_dataset(project, root / "out", ExportOptions(formats=("cityscapes",))))
    project.close()
    return root / "out"


def test_our_cityscapes_export_reads_back_through_datumaro_with_the_right_ids_and_names(spaced_export):
    read, names = datumaro_semantic(spaced_export, "cityscapes")
    assert names == NAMES  # no inserted "background", "ego vehicle" whole
    assert sorted(read) == ["aachen_000000_000019", "aachen_000001_000019"]
    for stem, label in read.items():
        np.testing.assert_array_equal(label, scene(int(stem.split("_")[1])))


def test_our_cityscapes_export_keeps_one_suffix_and_torchvision_finds_the_targets(spaced_export):
    from torchvision.datasets import Cityscapes

    assert not list(spaced_export.rglob("*_leftImg8bit_leftImg8bit*"))
    for index, split in enumerate(("train", "val")):
        dataset = Cityscapes(str(spaced_export), split=split, mode="fine", target_type="semantic")
        assert len(dataset) == 1
        _, target = dataset[0]
        np.testing.assert_array_equal(np.array(target), scene(index))


def test_our_voc_export_reads_back_exactly_through_datumaro(tmp_path):
    project = make_project(tmp_path, count=3)
    drive(export_dataset(project, tmp_path / "out", ExportOptions(formats=("voc",))))
    read, names = datumaro_semantic(tmp_path / "out", "voc_segmentation")
    assert names[:3] == project.class_names()
    for record in project.images():
        want = expected_export(project, record.id).astype(np.int32)
        want[want == project.ignore_value] = names.index("ignored")  # VOC's 255, datumaro's "ignored" label
        np.testing.assert_array_equal(read[Path(record.name).stem], want)
    project.close()


def test_a_masks_dataset_described_by_datumaros_dataset_meta_imports_as_datumaro_reads_it(tmp_path):
    """datumaro's common_semantic_segmentation layout (it has an importer, no exporter): images/,
    masks/ in the meta file's colours, dataset_meta.json."""
    import json

    from segstudio.core.formats.masks import MasksReader

    colors = [[0, 0, 0], [128, 64, 128], [0, 0, 142], [220, 20, 60]]
    (tmp_path / "dataset_meta.json").write_text(json.dumps({
        "label_map": {str(i): name for i, name in enumerate(NAMES)}, "segmentation_colors": colors}))
    for index in range(2):
        save_photo(tmp_path / "images" / f"frame_{index}.jpg", 64, 96, "coffee", top=index * 30)
        (tmp_path / "masks").mkdir(exist_ok=True)
        Image.fromarray(np.array(colors, dtype=np.uint8)[scene(index)]).save(tmp_path / "masks" / f"frame_{index}.png")
    read, names = datumaro_semantic(tmp_path, "common_semantic_segmentation")
    reader = MasksReader(tmp_path)
    assert reader.class_names() == names == NAMES
    samples = list(reader)
    assert len(samples) == 2
    for sample in samples:
        np.testing.assert_array_equal(sample.label, read[sample.image_path.stem])
        np.testing.assert_array_equal(sample.label, scene(int(sample.image_path.stem[-1])))
