"""brain-tumour: tiles of two contrast MRI brain volumes with a tumour outlined by hand, from pyradiomics.

pyradiomics's source distribution (not its wheel) ships its test cases in data/: brain1 and
brain2 are axial MRI volumes (256 x 256, 0.78 mm pixels, 6.5 mm slices, 16-bit with values up to
~3,000) each with a label map (1 = tumour) outlined slice by slice. Only the slices where the
tumour was outlined are used, because there the outline is the whole answer for the slice; each
is cut into four 128 x 128 tiles, so most tiles are all background and a few hold the tumour.

The files are read with a small NRRD reader here (gzip or raw), so nothing beyond numpy is
needed. Fetch the sdist and point at it:
`pip download --no-deps --no-binary :all: --no-build-isolation pyradiomics==3.0.1` (its metadata
step imports numpy), then `segstudio bench real-data brain-tumour DIR --from pyradiomics-3.0.1.tar.gz`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.bench.real_data import RealSource, Sample, shuffled_names

CLASSES = ("background", "tumour")
CASES = ("brain1", "brain2")
TILE = 128
_NRRD_TYPES = {"short": "i2", "int16": "i2", "int": "i4", "int32": "i4", "unsigned char": "u1", "uchar": "u1",
               "uint8": "u1", "ushort": "u2", "unsigned short": "u2", "uint16": "u2"}


def read_nrrd(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """An attached-data NRRD volume as a (z, y, x) array, and its header fields."""
    raw = path.read_bytes()
    head, separator, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not separator or not lines or not lines[0].startswith("NRRD"):
        raise ValueError(f"{path.name} is not an NRRD file with attached data")
    fields = {}
    for line in lines[1:]:
        if line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.lstrip("=").strip()
    if fields.get("type") not in _NRRD_TYPES or fields.get("encoding") not in ("gzip", "gz", "raw"):
        raise ValueError(f"{path.name}: type {fields.get('type')!r} / encoding {fields.get('encoding')!r} not read here")
    order = ">" if fields.get("endian") == "big" else "<"
    sizes = [int(size) for size in fields["sizes"].split()]
    data = gzip.decompress(body) if fields["encoding"] in ("gzip", "gz") else body
    return np.frombuffer(data, order + _NRRD_TYPES[fields["type"]]).reshape(sizes[::-1]), fields


def samples(root: Path) -> Iterator[Sample]:
    stems, tiles = [], []
    for case in CASES:
        image, _ = read_nrrd(root / f"{case}_image.nrrd")
        label, _ = read_nrrd(root / f"{case}_label.nrrd")
        if image.shape != label.shape or image.min() < 0 or image.max() > 65535:
            raise ValueError(f"{case}: image {image.shape} and label {label.shape} do not fit a 16-bit pair")
        for z in range(label.shape[0]):
            if not label[z].any():
                continue
            # LPS with the row direction towards anterior: flip so that each slice shows the nose up.
            slice_image, slice_label = np.flipud(image[z]).astype(np.uint16), np.flipud(label[z] > 0).astype(np.uint8)
            for y in range(0, slice_image.shape[0] - TILE + 1, TILE):
                for x in range(0, slice_image.shape[1] - TILE + 1, TILE):
                    stems.append(f"{case}_z{z:02d}_y{y:03d}_x{x:03d}")
                    tiles.append((slice_image[y:y + TILE, x:x + TILE], slice_label[y:y + TILE, x:x + TILE]))
    for name, (image_tile, label_tile) in zip(shuffled_names(stems), tiles):
        yield Sample(name, np.ascontiguousarray(image_tile), np.ascontiguousarray(label_tile))


SOURCE = RealSource(
    name="brain-tumour",
    domain="medical (MRI, brain tumour, 16-bit)",
    classes=CLASSES,
    install="pip download --no-deps --no-binary :all: --no-build-isolation pyradiomics==3.0.1 "
            "(needs numpy), then pass the .tar.gz with --from",
    locate=lambda: None,  # `pip install pyradiomics` does not install data/: only the sdist has it
    version=lambda: None,
    samples=samples,
    wheel_data_dir="data",  # inside the sdist's top folder
    licence="BSD-3-Clause (pyradiomics, Copyright 2017 Harvard Medical School, which ships these files); "
            "the scans' origin is not stated in the package",
    notice="""\
Source: PyPI source distribution **pyradiomics** 3.0.1 (also 2.0.0: the same bytes), files
`data/brain1_image.nrrd`, `data/brain1_label.nrrd`, `data/brain2_image.nrrd`,
`data/brain2_label.nrrd`: the test cases of PyRadiomics (AIM-Harvard / Radiomics, licence
BSD-3-Clause, Copyright 2017 Harvard Medical School). Cite: J. J. M. van Griethuysen et al.,
"Computational Radiomics System to Decode the Radiographic Phenotype", Cancer Research
77(21):e104-e107, 2017.

- Images: two axial, contrast-type MRI brain volumes (256 x 256 pixels of 0.78 mm, 6.5 mm slices,
  signed 16-bit in the file with values 0 to ~3,000, written here as uint16 unchanged).
- Labels: one tumour region per volume, outlined slice by slice (smooth per-slice contours, one
  lesion), 1 = tumour. The package does not say who drew them or where the scans come from
  (the project's history once held a TCGA-GBM case, TCGA-02-0003, so brain1 may come from the
  TCGA-GBM collection of The Cancer Imaging Archive); treat the provenance as unverified.

How SegStudio made this folder (`segstudio bench real-data brain-tumour DIR --from
pyradiomics-3.0.1.tar.gz`): only the 10 slices where a tumour is outlined (brain1 slices 11-17,
brain2 slices 8-10) were kept, flipped nose-up, and each cut into four 128 x 128 tiles (40 tiles;
12 hold tumour, 0.7 % of all pixels; the rest are all background). These are TWO patients: tiles are
neighbours, not independent scenes. File names start with a fixed shuffled rank so that the
held-out last tiles are spread over both volumes; the case, slice and tile origin follow it.
""",
)
