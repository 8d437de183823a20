"""labelme's own code, run in a separate process: it writes a labelme dataset and reads any.

labelme imports PyQt5; the test process holds PySide6, so labelme never runs inside it.

    python labelme_peer.py write FOLDER IMAGE.png   # labelme's LabelFile writes every shape type
    python labelme_peer.py read FOLDER NAMES.json OUT.npz   # labelme2voc's reading: shapes_to_label

`read` maps names through NAMES.json ({name: value}) exactly as labelme2voc's class_name_to_id
(`__ignore__` is given its own value by the caller) and stores one int32 label map per JSON stem.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def write(folder: Path, image_path: Path) -> None:
    from labelme import utils
    from labelme._label_file import LabelFile

    image_bytes = image_path.read_bytes()
    image = utils.img_data_to_arr(image_bytes)
    height, width = image.shape[:2]
    blob = np.zeros((9, 12), dtype=bool)
    blob[2:8, 3:11] = True
    blob[4:6, 5:8] = False

    def shape(label, points, kind, mask=None):
        return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind,
                "flags": {}, "mask": mask}

    shapes = [
        shape("sky", [[0.0, 0.0], [width - 1.0, 0.0], [width - 1.0, height * 0.4], [0.0, height * 0.45]], "polygon"),
        shape("person", [[20.4, 30.7], [61.2, 25.3], [70.9, 88.6], [33.3, 95.5], [18.8, 60.1]], "polygon"),
        shape("tiny", [[80.3, 80.6], [82.7, 80.2], [81.4, 82.9]], "polygon"),
        shape("box", [[95.6, 10.2], [120.3, 35.8]], "rectangle"),
        shape("cell", [[40.5, 60.5], [48.2, 66.1]], "circle"),
        shape("rotated", [[100.0, 60.0], [120.0, 70.0], [115.0, 80.0], [95.0, 70.0]], "oriented_rectangle"),
        shape("wire", [[5.0, 100.0], [60.0, 110.0]], "line"),
        shape("wire", [[70.0, 5.0], [90.0, 15.0], [110.0, 5.0]], "linestrip"),
        shape("seed", [[140.0, 100.0]], "point"),
        shape("blob", [[130.0, 40.0], [141.0, 48.0]], "mask", utils.img_arr_to_b64(blob.astype(np.uint8))),
        shape("__ignore__", [[25.0, 70.0], [40.0, 70.0], [40.0, 85.0], [25.0, 85.0]], "polygon"),
    ]
    (folder / "photo.png").write_bytes(image_bytes)
    LabelFile().save(str(folder / "photo.json"), shapes, "photo.png", height, width)
    # imageData is read first: here imagePath names a text file, not an image
    (folder / "notes.txt").write_text("not an image")
    embedded = [shapes[1], shapes[3], shapes[-1]]
    LabelFile().save(str(folder / "embedded.json"), embedded, "notes.txt", height, width, image_data=image_bytes)


def read(folder: Path, names: dict[str, int], out: Path) -> None:
    from labelme import utils
    from labelme._label_file import LabelFile

    labels = {}
    for path in sorted(folder.rglob("*.json")):
        label_file = LabelFile(str(path))
        image = utils.img_data_to_arr(label_file.image_data)
        labels[path.stem], _ = utils.shapes_to_label(image.shape, label_file.shapes, names)
    np.savez(out, **labels)


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        write(folder, Path(sys.argv[3]))
    else:
        read(folder, json.loads(Path(sys.argv[3]).read_text()), Path(sys.argv[4]))
