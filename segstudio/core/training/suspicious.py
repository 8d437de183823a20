"""Labels that look wrong: where a confident, trustworthy model disagrees with a large share.

One careless image (test strokes, the wrong class, a shifted mask) can wreck a model trained on
a handful of images. Before a round trains on new or changed labels, the best model looks at
them: among the reviewed pixels it predicts with probability >= CONFIDENT, the share where its
class differs from the person's. Above SHARE the image is flagged with a plain message and left
out of training and validation until the person confirms the labels (Project.confirm_labels).
Nothing is changed silently: the labels stay as painted, the person decides.

The check only speaks when the model has earned it: a validation mIoU of at least TRUST_FLOOR
on real validation images, and at least MIN_CONFIDENT_PIXELS confident reviewed pixels in the
image. A person correcting a poor proposal is therefore not flagged while the model is poor;
with a good model, an image that disagrees with it on a quarter of its sure pixels is worth a
second look even when the person turns out to be right (one click confirms it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
import numpy as np

from segstudio.core.progress import Progress
from segstudio.core.training.events import LabelFlag

CONFIDENT = 0.9
SHARE = 0.25
TRUST_FLOOR = 0.6
MIN_CONFIDENT_PIXELS = 64
IGNORE = 255


def disagreement(target: np.ndarray, classes: np.ndarray, confidence: np.ndarray) -> tuple[float, int]:
    """(share of the confident reviewed pixels whose class differs from the label, their count)."""
    sure = (target != IGNORE) & (confidence >= CONFIDENT)
    count = int(np.count_nonzero(sure))
    if not count:
        return 0.0, 0
    return float(np.count_nonzero(classes[sure] != target[sure]) / count), count


def flag_message(name: str, share: float, version: str) -> str:
    return (f"labels on {name} disagree with model {version} on {share:.0%} of the pixels it is sure about: "
            f"check them (the image is left out of training until you confirm them)")


def trustworthy(model_record) -> bool:
    """A model whose own validation earned it the right to question labels."""
    if model_record is None:
        return False
    return (model_record.miou is not None and model_record.miou >= TRUST_FLOOR
            and int(model_record.metrics.get("val_images") or 0) > 0)


def check_labels(project, images: Sequence, predict_fn: Callable[[object], tuple[np.ndarray, np.ndarray]],
                 model_record, *, recheck: bool = False, stop=None) -> Generator[Progress, None, list[LabelFlag]]:
    """Flag images (with `image_id` and `target`) whose labels a trustworthy model disagrees with.

    `predict_fn(image)` returns (class map, probability of that class) for any model kind.
    Unchanged labels already checked are skipped unless `recheck`; labels a person confirmed
    are never flagged again until they change. Returns the images flagged now.
    """
    if not trustworthy(model_record):
        return []
    flags = []
    for done, image in enumerate(images):
        if stop is not None and stop.is_set():
            break
        yield Progress(done, len(images), "checking labels against the best model")
        stamp = project.label_stamp(image.image_id)
        checked, confirmed = project.label_check_state(image.image_id)
        if stamp == confirmed or (stamp == checked and not recheck):
            continue
        classes, confidence = predict_fn(image)
        share, count = disagreement(image.target, classes, confidence)
        if count >= MIN_CONFIDENT_PIXELS and share > SHARE:
            name = project.image(image.image_id).name
            flag = LabelFlag(image.image_id, name, share, flag_message(name, share, model_record.version))
            project.flag_labels(image.image_id, flag.message, stamp)
            flags.append(flag)
        else:
            project.mark_labels_checked(image.image_id, stamp)
    return flags


def check_project(project, *, device: str | None = None, stop=None) -> Generator[Progress, None, list[LabelFlag]]:
    """On demand: every reviewed image not flagged yet, checked by the proposing model (any labels,
    checked before or not; confirmed labels stay confirmed). Returns the images flagged now."""
    from segstudio.core.device import pick_device
    from segstudio.core.inference import predict
    from segstudio.core.models.bundle import ModelBundle
    from segstudio.core.progress import drive
    from segstudio.core.training.dataset import load_reviewed
    from segstudio.core.training.policy import candidate_image_ids

    record = project.proposing_model()
    if not trustworthy(record):
        return []
    bundle = ModelBundle.load(record.path)
    mapping = bundle.mapping_to(project.class_names())
    target = pick_device(device)
    bundle.model.to(target)
    images = load_reviewed(project, candidate_image_ids(project), bundle.in_channels)

    def predict_fn(image):
        prediction = drive(predict(bundle, image.raw, device=target, mapping=mapping))
        return prediction.class_map, prediction.confidence.astype(np.float32) / 255.0

    return (yield from check_labels(project, images, predict_fn, record, recheck=True, stop=stop))
