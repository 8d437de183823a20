"""brain-aal: axial slices of the Colin27 T1 MRI with the AAL atlas, drawn by hand on that brain.

Debian's mricron-data ships ch2.nii.gz (the MNI single-subject "Colin27" T1, 1 mm) and aal.nii.gz
on the same grid: Tzourio-Mazoyer et al. (2002) parcellated this one brain by tracing its sulci on
every 2 mm axial slice. The 116 AAL regions are merged into four groups; white matter, CSF and
everything outside the atlas are "other". Needs `apt-get install mricron-data` and
`pip install nibabel` (neither is a SegStudio dependency).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from segstudio.bench.real_data import RealSource, Sample, debian_version, shuffled_names

TEMPLATES = Path("/usr/share/mricron/templates")
CLASSES = ("other", "cerebral cortex", "deep grey matter", "cerebellum")
# AAL region codes (aal.nii.txt, third column): 7xxx basal ganglia and thalamus, 9xxx cerebellum and vermis.
_DEEP, _CEREBELLUM = 7, 9
STEP = 2  # every second 1 mm slice: neighbours are nearly identical


def _read_volume(path: Path) -> np.ndarray:
    import nibabel

    return np.asanyarray(nibabel.load(str(path)).dataobj)


def _group_lut(table: Path) -> np.ndarray:
    """AAL index -> class id, from the atlas's own table of region codes."""
    lut = np.zeros(256, np.uint8)
    for line in table.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3:
            index, code = int(parts[0]), int(parts[2])
            lut[index] = {_DEEP: 2, _CEREBELLUM: 3}.get(code // 1000, 1)
    return lut


def samples(root: Path) -> Iterator[Sample]:
    t1 = _read_volume(root / "ch2.nii.gz")
    atlas = _read_volume(root / "aal.nii.gz")
    if t1.shape != atlas.shape:
        raise ValueError(f"ch2 {t1.shape} and aal {atlas.shape} are not on one grid")
    classes = _group_lut(root / "aal.nii.txt")[atlas]
    zs = [z for z in range(0, atlas.shape[2], STEP) if (atlas[:, :, z] > 0).sum() > 500]
    for name, z in zip(shuffled_names([f"z{z:03d}" for z in zs]), zs):
        # NIfTI is (x, y, z) with y to the front: show each slice with the nose up, left on the left.
        yield Sample(name, np.ascontiguousarray(np.flipud(t1[:, :, z].T)),
                     np.ascontiguousarray(np.flipud(classes[:, :, z].T)))


SOURCE = RealSource(
    name="brain-aal",
    domain="medical (MRI, brain)",
    classes=CLASSES,
    install="apt-get install mricron-data && pip install nibabel",
    locate=lambda: TEMPLATES if (TEMPLATES / "aal.nii.gz").is_file() and (TEMPLATES / "ch2.nii.gz").is_file() else None,
    needs_modules=("nibabel",),
    version=lambda: debian_version("mricron-data"),
    samples=samples,
    licence="BSD-3-Clause as Debian states it for mricron-data; cite Holmes et al. 1998 and Tzourio-Mazoyer et al. 2002",
    notice="""\
Source: Debian package **mricron-data** (`/usr/share/mricron/templates/ch2.nii.gz`, `aal.nii.gz`,
`aal.nii.txt`), licence as stated by Debian for the package: BSD-3-Clause (Chris Rorden, MRIcron).

- Image: ch2, the MNI single-subject T1 MRI ("Colin27"): C. J. Holmes et al., "Enhancement of MR
  images using registration for signal averaging", J Comput Assist Tomogr 22(2):324-333, 1998.
- Labels: AAL atlas, drawn on that same brain: N. Tzourio-Mazoyer et al., "Automated anatomical
  labeling of activations in SPM using a macroscopic anatomical parcellation of the MNI MRI
  single-subject brain", NeuroImage 15(1):273-289, 2002 (sulci traced by hand on every 2 mm
  axial slice; the grey-matter extent came from a tissue segmentation).

How SegStudio made this folder (`segstudio bench real-data brain-aal DIR`): every second axial
slice (1 mm voxels) with more than 500 atlas voxels, rotated nose-up, written as 8-bit PNG as
stored; the 116 AAL regions merged into cerebral cortex (all cerebral regions incl. hippocampus,
amygdala, insula, cingulate), deep grey matter (caudate, putamen, pallidum, thalamus) and
cerebellum (cerebellum and vermis); everything else (white matter, CSF, skull, air) is "other".
File names start with a fixed shuffled rank so that any run of names (e.g. the held-out last 10)
spans the whole brain; the z index in the name is the slice.
""",
)

