"""The table of dataset formats: one small spec per format, looked up by name."""

from __future__ import annotations

from dataclasses import dataclass

from segstudio.core.errors import FormatError
from segstudio.core.formats.base import DatasetReader, DatasetWriter
from segstudio.core.formats.cityscapes import CityscapesReader, CityscapesWriter
from segstudio.core.formats.coco import CocoReader, CocoWriter
from segstudio.core.formats.labelme import LabelmeReader, LabelmeWriter
from segstudio.core.formats.masks import MasksReader, MasksWriter
from segstudio.core.formats.voc import VocReader, VocWriter
from segstudio.core.formats.yolo import YoloReader, YoloWriter


@dataclass(frozen=True)
class FormatSpec:
    name: str
    title: str
    description: str
    exporter: type[DatasetWriter]
    importer: type[DatasetReader]
    raster: bool  # masks are stored pixel by pixel (exact round trip); False: polygons


FORMATS: dict[str, FormatSpec] = {spec.name: spec for spec in (
    FormatSpec("voc", "PASCAL VOC", "JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/Segmentation/",
               VocWriter, VocReader, raster=True),
    FormatSpec("cityscapes", "Cityscapes", "leftImg8bit/ and gtFine/ labelIds, color, polygons per split and group",
               CityscapesWriter, CityscapesReader, raster=True),
    FormatSpec("coco", "COCO", "annotations/instances_<split>.json, one RLE annotation per region",
               CocoWriter, CocoReader, raster=True),
    FormatSpec("yolo", "YOLO segmentation", "images/, labels/ normalised polygons, data.yaml",
               YoloWriter, YoloReader, raster=False),
    FormatSpec("labelme", "labelme", "one labelme JSON with polygons beside each image",
               LabelmeWriter, LabelmeReader, raster=False),
    FormatSpec("masks", "Plain masks", "images/, masks/ class-index PNGs, classes.json",
               MasksWriter, MasksReader, raster=True),
)}


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise FormatError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}") from None


def parse_formats(text: str) -> list[FormatSpec]:
    """'voc,coco' -> specs, in order, without repeats."""
    names = [n for n in (part.strip().lower() for part in text.split(",")) if n]
    if not names:
        raise FormatError(f"no format given; choose from {', '.join(FORMATS)}")
    return [get_format(n) for n in dict.fromkeys(names)]
