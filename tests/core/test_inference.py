"""Tiled prediction, the visible region first, cancel, and applying proposals to a project."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.device import cpu_has_native_bf16
from segstudio.core.document import MaskDocument
from segstudio.core.errors import ModelError
from segstudio.core.geometry import BBox
from segstudio.core.inference import RegionPrediction, match_channels, predict
from segstudio.core.prediction import Prediction, apply_prediction
from segstudio.core.models import ModelBundle, SegmentationModel
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import Project, Source

CLASSES = ["background", "cell", "debris"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bundle():
    torch.manual_seed(0)
    made = ModelBundle.create("unet", CLASSES, depth=2, width=8)
    with torch.no_grad():  # decisive logits so that argmax agreement is a real check
        made.model.net.head.weight.mul_(20)
    return made


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32) * 255
    return cv2.GaussianBlur(noise, (0, 0), 4).astype(np.uint8)


def test_tiled_equals_whole_image_within_tolerance(bundle):
    image = smooth_image(150, 203)
    whole = drive(predict(bundle, image, tile=512))
    tiled = drive(predict(bundle, image, tile=64, overlap=24))
    assert whole.class_map.shape == tiled.class_map.shape == (150, 203)
    assert (whole.class_map == tiled.class_map).mean() > 0.99
    assert np.abs(whole.confidence.astype(int) - tiled.confidence).mean() < 2.0
    assert whole.uncertainty == pytest.approx(tiled.uncertainty, abs=0.01)


def test_outputs_are_compact_and_consistent(bundle):
    prediction = drive(predict(bundle, smooth_image(40, 50)))
    assert prediction.class_map.dtype == np.uint8 and prediction.class_map.max() < len(CLASSES)
    assert prediction.confidence.dtype == np.uint8 and prediction.confidence.min() >= 255 // len(CLASSES)
    assert prediction.entropy.dtype == np.uint8
    assert prediction.uncertainty == pytest.approx(prediction.entropy.mean() / 255, abs=0.01)


def test_visible_region_comes_first_and_progress_counts_up(bundle):
    events = []
    result = drive(predict(bundle, smooth_image(160, 160), tile=64, overlap=16, region_first=BBox(100, 100, 130, 140)),
                   events.append)
    regions = [e for e in events if isinstance(e, RegionPrediction)]
    assert len(regions) == 1 and events.index(regions[0]) < len(events) - 1
    box = regions[0].bbox
    assert box.y0 <= 100 and box.x0 <= 100 and box.y1 >= 130 and box.x1 >= 140
    assert regions[0].prediction.class_map.shape == (box.height, box.width)
    done = [e.done for e in events if isinstance(e, Progress)]
    assert done == sorted(done) and done[-1] == events[-1].total
    assert isinstance(result, Prediction)


def test_stop_flag_ends_prediction_without_a_result(bundle):
    stop = StopFlag()
    gen = predict(bundle, smooth_image(200, 200), tile=64, overlap=16, stop=stop)
    next(gen)
    stop.set()
    assert drive(gen) is None


def test_big_images_never_hold_full_resolution_float_logits(bundle):
    image = smooth_image(2048, 384)
    outputs_bytes = 3 * image.shape[0] * image.shape[1]  # class map, confidence, entropy: a byte each
    full_logits_bytes = len(CLASSES) * image.shape[0] * image.shape[1] * 4
    tracemalloc.start()
    try:
        prediction = drive(predict(bundle, image, tile=128, overlap=16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prediction.class_map.shape == image.shape[:2]
    # besides the outputs, only a band of K x tile x W floats and small chunk temporaries
    assert peak - outputs_bytes < full_logits_bytes // 4, (peak, outputs_bytes, full_logits_bytes)


def test_mapping_renames_and_drops_classes(bundle):
    image = smooth_image(48, 48)
    plain = drive(predict(bundle, image))
    mapping = bundle.mapping_to(["cell", "background"], allow_mapping=True)
    assert mapping == {0: 1, 1: 0, 2: 255}
    mapped = drive(predict(bundle, image, mapping=mapping))
    lut = np.array([1, 0, 255], np.uint8)
    assert np.array_equal(mapped.class_map, lut[plain.class_map])
    with pytest.raises(ModelError, match="the project has classes the model lacks: tumour"):
        bundle.mapping_to(["background", "cell", "debris", "tumour"])


def test_channels_are_matched_or_refused_clearly():
    gray = np.zeros((5, 6), np.uint16)
    assert match_channels(gray, 3).shape == (5, 6, 3)
    assert match_channels(np.zeros((5, 6, 4), np.uint8), 3).shape == (5, 6, 3)
    assert match_channels(np.full((5, 6, 3), 200, np.uint8), 1)[0, 0, 0] == 200
    assert match_channels(np.zeros((5, 6, 2), np.uint8), 3).shape == (5, 6, 3)  # grey + alpha: the grey
    with pytest.raises(ModelError, match="5 channels but the model expects 3"):
        match_channels(np.zeros((5, 6, 5), np.uint8), 3)


@pytest.fixture
def project(tmp_path):
    image_path = tmp_path / "images" / "a.png"
    image_path.parent.mkdir()
    cv2.imwrite(str(image_path), smooth_image(40, 50))
    created = Project.create(tmp_path / "project", CLASSES)
    created.add_images([image_path])
    yield created
    created.close()


def reviewed_masks(project, image_id):
    label = np.full((40, 50), 255, np.uint8)
    source = np.zeros((40, 50), np.uint8)
    label[:10], source[:10] = 2, Source.HUMAN  # painted by a person
    label[10:20], source[10:20] = 1, Source.ACCEPTED  # accepted proposal
    label[20:30], source[20:30] = 0, Source.PROPOSAL  # an older proposal
    project.write_masks(image_id, label, source)
    return label, source


def proposal_of(value: int) -> Prediction:
    entropy = np.full((40, 50), 51, np.uint8)
    return Prediction(np.full((40, 50), value, np.uint8), np.full((40, 50), 200, np.uint8), entropy, 0.2)


def test_apply_without_a_document_touches_only_unreviewed_pixels(project):
    image_id = project.images()[0].id
    label, source = reviewed_masks(project, image_id)
    apply_prediction(project, None, image_id, proposal_of(1))
    new_label, new_source = project.read_label(image_id), project.read_source(image_id)
    assert np.array_equal(new_label[:20], label[:20]) and np.array_equal(new_source[:20], source[:20])
    assert (new_label[20:] == 1).all() and (new_source[20:] == Source.PROPOSAL).all()
    assert project.image(image_id).uncertainty == pytest.approx(0.2)
    assert np.array_equal(project.read_uncertainty_map(image_id), np.full((40, 50), 51, np.uint8))


def test_apply_with_a_document_is_one_undoable_step(project):
    image_id = project.images()[0].id
    label, source = reviewed_masks(project, image_id)
    document = MaskDocument(image_id, label.copy(), source.copy())
    box = apply_prediction(project, document, image_id, proposal_of(2))
    assert box is not None and (document.label[20:] == 2).all() and (document.label[:10] == 2).all()
    assert (document.label[10:20] == 1).all()
    document.undo()
    assert np.array_equal(document.label, label) and np.array_equal(document.source, source)


def test_the_tuned_inference_copy_matches_and_follows_weight_changes():
    from segstudio.core.models.optimise import inference_copy

    torch.manual_seed(3)
    model = ModelBundle.create("lraspp_mobilenet_v3_large", CLASSES).model.eval()
    x = torch.randn(1, 3, 64, 80)
    fast = inference_copy(model, torch.device("cpu"))
    assert fast is not model and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    with torch.inference_mode():
        assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), model(x), atol=1e-4)
    assert inference_copy(model, torch.device("cpu")) is fast
    with torch.no_grad():
        model.net.net.classifier.high_classifier.bias.add_(1.0)
    refreshed = inference_copy(model, torch.device("cpu"))
    with torch.inference_mode():
        assert refreshed is not fast and torch.allclose(refreshed(x), model(x), atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_mixed_precision_agrees_with_the_cpu(bundle):
    image = smooth_image(300, 420)
    on_cpu = drive(predict(bundle, image, device="cpu", tile=128, overlap=32))
    on_gpu = drive(predict(bundle, image, device="cuda", tile=128, overlap=32))
    assert (on_cpu.class_map == on_gpu.class_map).mean() > 0.98
    assert on_gpu.uncertainty == pytest.approx(on_cpu.uncertainty, abs=0.02)


def test_one_pixel_and_16_bit_images_predict():
    torch.manual_seed(0)
    gray = ModelBundle.create("unet", CLASSES, in_channels=1, depth=2, width=4)
    assert gray.normalisation.mean == (0.5,)
    deep = (np.random.default_rng(0).random((70, 90)) * 65535).astype(np.uint16)
    assert drive(predict(gray, deep, tile=32, overlap=8)).class_map.shape == (70, 90)
    assert drive(predict(gray, np.zeros((1, 1), np.uint16))).class_map.shape == (1, 1)


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bfloat16")
def test_cpu_bfloat16_agrees_with_float32(bundle):
    image = smooth_image(120, 160)
    mixed = drive(predict(bundle, image, tile=64, overlap=16))
    exact = drive(predict(bundle, image, tile=64, overlap=16, mixed_precision=False))
    assert (mixed.class_map == exact.class_map).mean() > 0.98
    assert mixed.uncertainty == pytest.approx(exact.uncertainty, abs=0.02)


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), tile=st.integers(16, 48), overlap_part=st.floats(0, 0.5),
       seed=st.integers(0, 2**16))
def test_tiling_and_blending_change_nothing_for_a_per_pixel_network(height, width, tile, overlap_part, seed):
    """A 1x1 convolution sees no context, so any tiling must reproduce the whole-image result."""
    torch.manual_seed(seed)
    net = SegmentationModel(torch.nn.Conv2d(3, 3, 1), arch="pixel", num_classes=3, in_channels=3, stride=1)
    pixel = ModelBundle(model=net, arch="pixel", classes=CLASSES, tile_size=512)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    whole = drive(predict(pixel, image, mixed_precision=False))
    tiled = drive(predict(pixel, image, tile=tile, overlap=int(tile * overlap_part), mixed_precision=False))
    assert np.array_equal(whole.class_map, tiled.class_map)
    assert np.abs(whole.confidence.astype(int) - tiled.confidence).max() <= 1
    assert whole.uncertainty == pytest.approx(tiled.uncertainty, abs=1e-4)


def test_default_tiling_is_one_pass_when_it_fits_and_big_tiles_when_not():
    from segstudio.core.inference import WHOLE_IMAGE_BUDGET, default_tiling
    from segstudio.core.models import ModelBundle

    bundle = ModelBundle.create("unet", ["a", "b"], depth=1, width=2)
    assert default_tiling(bundle, 1024, 1024) == (1024, 0)  # 9 tiles of 512 were 2.25x the pixels
    assert default_tiling(bundle, 700, 1024) == (1024, 0)
    tile, overlap = default_tiling(bundle, 16384, 16384)
    assert bundle.tile_size <= tile < 16384 and 0 < overlap <= tile // 4
    assert tile * tile * 800 <= WHOLE_IMAGE_BUDGET


def test_a_default_prediction_is_one_tile_for_a_small_image():
    from segstudio.core.inference import predict
    from segstudio.core.models import ModelBundle
    from segstudio.core.progress import Progress

    bundle = ModelBundle.create("unet", ["a", "b"], depth=1, width=2)
    image = np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    steps = [p for p in predict(bundle, image) if isinstance(p, Progress)]
    assert steps[-1].total == 1
