"""The instant tier's classifier: learns from scribbles, keeps every class, saves safely, refuses tampering."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest

from segstudio.core.errors import ModelError
from segstudio.core.instant.classifier import InstantModel, collect_rows
from segstudio.core.instant.features import image_features
from segstudio.core.instant.forest import ForestParams
from segstudio.core.instant.project_data import reviewed_samples
from segstudio.core.instant.sampling import BalancedSampler, share_budget
from segstudio.core.metrics import confusion_matrix, scores_from_confusion

CLASSES = ["background", "nucleus", "nucleus boundary"]


@pytest.fixture(scope="module")
def model(nuclei):
    image, _, scribbles = nuclei
    return InstantModel.fit([(image, scribbles)], CLASSES, threads=1)


def miou(truth, class_map, num_classes=3):
    return scores_from_confusion(confusion_matrix(truth, class_map, num_classes)).miou


def test_a_few_scribbles_train_a_model_that_proposes_the_scribbled_classes(nuclei, model):
    image, truth, scribbles = nuclei
    assert (scribbles != 255).mean() < 0.05  # a few scribbles, not a mask
    class_map, confidence = model.predict(image)
    assert class_map.dtype == np.uint8 and class_map.shape == truth.shape
    assert confidence.dtype == np.float32 and 0 <= confidence.min() and confidence.max() <= 1
    assert set(np.unique(class_map)) == {0, 1, 2}
    assert miou(truth, class_map) > 0.6  # "all background" scores 0.26
    assert model.labelled == np.bincount(scribbles[scribbles != 255], minlength=3).tolist()


def test_cached_features_train_and_predict_like_the_image(nuclei, model):
    image, _, scribbles = nuclei
    features = image_features(image)
    again = InstantModel.fit([(features, scribbles)], CLASSES, threads=1)
    assert np.array_equal(again.predict_proba(features), model.predict_proba(image))


def test_rows_gathered_once_restart_a_fit_like_one_pass_over_every_image(nuclei):
    """The live refresh gathers the other reviewed images once and adds only the open image."""
    image, _, scribbles = nuclei
    others, open_image = (image[:100], scribbles[:100]), (image_features(image[100:]), scribbles[100:])
    start = collect_rows([others], CLASSES, max_pixels=800)
    kept = [rows.copy() for rows in start.sampler.rows if rows is not None]
    refreshed = InstantModel.fit([open_image], CLASSES, start=start, params=ForestParams(trees=4), threads=1)
    one_pass = InstantModel.fit([others, open_image], CLASSES, max_pixels=800, params=ForestParams(trees=4), threads=1)
    assert np.array_equal(refreshed.predict_proba(open_image[0]), one_pass.predict_proba(open_image[0]))
    assert all(np.array_equal(a, b) for a, b in zip(kept, [r for r in start.sampler.rows if r is not None]))
    with pytest.raises(ModelError, match="other classes"):
        InstantModel.fit([open_image], CLASSES[:2], start=start)


def test_a_class_nobody_labelled_keeps_its_place_with_probability_zero(nuclei):
    image, _, scribbles = nuclei
    model = InstantModel.fit([(image, scribbles)], CLASSES + ["mitosis"], threads=1)
    proba = model.predict_proba(image)
    assert proba.shape == (4, *image.shape[:2]) and proba.dtype == np.float32
    assert not proba[3].any()
    assert np.allclose(proba.sum(axis=0), 1, atol=1e-5)
    assert model.labelled[3] == 0


def test_sampling_is_bounded_balanced_and_seeded(nuclei):
    image, truth, _ = nuclei
    kwargs = dict(max_pixels=3000, params=ForestParams(trees=4), threads=1)
    first = InstantModel.fit([(image, truth)], CLASSES, seed=1, **kwargs)
    assert sum(first.sampled) == 3000 and first.labelled == np.bincount(truth.ravel(), minlength=3).tolist()
    rarest = int(np.argmin(first.labelled))
    assert first.sampled[rarest] == min(1000, first.labelled[rarest])  # a rare class gets its full share
    same = InstantModel.fit([(image, truth)], CLASSES, seed=1, **kwargs)
    assert np.array_equal(same.predict_proba(image), first.predict_proba(image))


def test_the_sample_does_not_depend_on_how_images_are_split_up():
    """Bottom-k keys: the kept pixels are a uniform sample per class across every image offered."""
    target = np.repeat(np.arange(3, dtype=np.uint8), 400).reshape(30, 40)
    rows = np.arange(target.size, dtype=np.float32)[:, None]
    sampler = BalancedSampler(3, 90, seed=0)
    sampler.add(target, 255, lambda idx: rows[idx])
    result = sampler.rows_for_training()
    assert np.bincount(result.labels).tolist() == [30, 30, 30]
    assert np.all(target.ravel()[result.features[:, 0].astype(int)] == result.labels)
    assert share_budget(np.array([5, 1000, 0, 40]), 100).tolist() == [5, 55, 0, 40]


def test_bad_training_input_is_refused(nuclei):
    image, _, scribbles = nuclei
    with pytest.raises(ModelError, match="no reviewed pixels"):
        InstantModel.fit([(image, np.full(scribbles.shape, 255, np.uint8))], CLASSES)
    with pytest.raises(ModelError, match="class id 2"):
        InstantModel.fit([(image, scribbles)], CLASSES[:2])
    with pytest.raises(ModelError, match="target"):
        InstantModel.fit([(image, scribbles[:10])], CLASSES)


def test_sixteen_bit_targets_use_65535_as_ignore(nuclei):
    image, _, scribbles = nuclei
    wide = scribbles.astype(np.uint16)
    wide[scribbles == 255] = 65535
    model = InstantModel.fit([(image, wide)], CLASSES, params=ForestParams(trees=4), threads=1)
    assert model.labelled == np.bincount(scribbles[scribbles != 255], minlength=3).tolist()


# ------------------------------------------------------------------------------------- saving


def test_save_and_load_give_identical_predictions_and_no_pickle(tmp_path, nuclei, model):
    image = nuclei[0]
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["forest.safetensors", "model.json"]
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["kind"] == "instant" and meta["classes"] == CLASSES and meta["features"]["count"] == 49
    assert meta["library"]["name"] == "scikit-learn" and meta["params"] == ForestParams().to_json()
    loaded = InstantModel.load(tmp_path / "m")
    assert np.array_equal(loaded.predict_proba(image), model.predict_proba(image))
    assert loaded.class_names == CLASSES and loaded.labelled == model.labelled and loaded.created_at == model.created_at
    assert meta["probability_sigma"] == loaded.probability_sigma == model.probability_sigma > 0


def test_a_model_saved_before_smoothing_loads_and_proposes_as_it_did(tmp_path, nuclei, model, monkeypatch):
    """Models saved without probability_sigma voted pixel by pixel; they still do after loading."""
    model.save(tmp_path / "m")
    rewrite_json(tmp_path / "m", lambda meta: meta.pop("probability_sigma"))
    loaded = InstantModel.load(tmp_path / "m")
    monkeypatch.setattr(model, "probability_sigma", 0.0)
    assert loaded.probability_sigma == 0.0
    assert np.array_equal(loaded.predict_proba(nuclei[0]), model.predict_proba(nuclei[0]))


def rewrite_arrays(folder, change):
    """Change the arrays and re-sign them, as someone crafting a hostile file would."""
    from safetensors.numpy import load, save

    arrays = load((folder / "forest.safetensors").read_bytes())
    change(arrays)
    data = save(arrays)
    (folder / "forest.safetensors").write_bytes(data)
    rewrite_json(folder, lambda meta: meta["arrays"].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest()))


def rewrite_json(folder, change):
    meta = json.loads((folder / "model.json").read_text())
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))


def flip_a_byte(folder):
    data = bytearray((folder / "forest.safetensors").read_bytes())
    data[-5] ^= 0x01
    (folder / "forest.safetensors").write_bytes(bytes(data))


def first_split(arrays):
    return int(np.flatnonzero(arrays["left_child"] != -1)[0])


TAMPERING = {
    "changed byte": (flip_a_byte, "checksum"),
    "wrong shape": (lambda f: rewrite_arrays(f, lambda a: a.update(threshold=a["threshold"][:-1])), "shape"),
    "node index out of range": (lambda f: rewrite_arrays(f, lambda a: a["left_child"].__setitem__(
        first_split(a), 10**6)), "node index"),
    "child pointing back (a loop)": (lambda f: rewrite_arrays(f, lambda a: a["right_child"].__setitem__(
        first_split(a), 0)), "node index"),
    "feature out of range": (lambda f: rewrite_arrays(f, lambda a: a["feature"].__setitem__(first_split(a), 49)), "feature"),
    "extra class": (lambda f: rewrite_json(f, lambda m: (m["classes"].append("extra"), m["present_classes"].append(3),
                                                         m["train_pixels"]["labelled"].update(extra=0),
                                                         m["train_pixels"]["sampled"].update(extra=0))), "leaf values"),
    "class id beyond the classes": (lambda f: rewrite_json(f, lambda m: m["present_classes"].__setitem__(2, 7)), "present"),
    "feature spec changed": (lambda f: rewrite_json(f, lambda m: m["features"].update(sigmas=[1.0, 2.0], count=13)),
                             "feature"),
    "foreign kind": (lambda f: rewrite_json(f, lambda m: m.update(kind="network")), "not describe an instant"),
    "smoothing as wide as an image": (lambda f: rewrite_json(f, lambda m: m.update(probability_sigma=1e9)),
                                      "probability_sigma"),
    "smoothing that is not a number": (lambda f: rewrite_json(f, lambda m: m.update(probability_sigma="1")),
                                       "probability_sigma"),
    "array of another type": (lambda f: rewrite_arrays(f, lambda a: a.update(feature=a["feature"].astype(np.int64))),
                              "type"),
    "unknown array": (lambda f: rewrite_arrays(f, lambda a: a.update(extra=np.zeros(3))), "not ours"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_a_tampered_model_is_refused(tmp_path, model, tampering):
    change, message = TAMPERING[tampering]
    model.save(tmp_path / "m")
    change(tmp_path / "m")
    with pytest.raises(ModelError, match=message):
        InstantModel.load(tmp_path / "m")


class _Payload:
    def __reduce__(self):
        return (open, (str(_Payload.marker), "w"))


def test_a_pickle_payload_is_refused_and_never_runs(tmp_path, model):
    _Payload.marker = tmp_path / "pwned"
    model.save(tmp_path / "m")
    data = pickle.dumps({"forest": _Payload()})
    (tmp_path / "m" / "forest.safetensors").write_bytes(data)
    rewrite_json(tmp_path / "m", lambda m: m["arrays"].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest()))
    with pytest.raises(ModelError):
        InstantModel.load(tmp_path / "m")
    shutil.copy(tmp_path / "m" / "forest.safetensors", tmp_path / "m" / "forest.pkl")
    rewrite_json(tmp_path / "m", lambda m: m["arrays"].update(file="forest.pkl"))
    with pytest.raises(ModelError, match="arrays file"):
        InstantModel.load(tmp_path / "m")
    assert not _Payload.marker.exists()


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        InstantModel.load(tmp_path)


# ------------------------------------------------------------------------------- project data


def test_reviewed_samples_are_exactly_the_reviewed_pixels(tmp_path):
    from segstudio.bench.shapes_dataset import create_shapes_project

    with create_shapes_project(tmp_path / "p", count=3, size=48, labelled=2) as project:
        ids = [record.id for record in project.images()]
        label = project.read_label(ids[0])
        source = np.full(label.shape, 3, np.uint8)
        source[:, :24] = 1  # an unreviewed proposal on the left half
        source[:8] = 2  # accepted by a person on the top rows
        project.write_masks(ids[0], label, source)
        samples = list(reviewed_samples(project, ids))
    assert [image_id for image_id, _, _ in samples] == ids[:2]  # the unlabelled image is left out
    _, raw, target = samples[0]
    assert raw.shape[:2] == label.shape and target.dtype == label.dtype
    assert np.array_equal(target == 255, source == 1)
    assert np.array_equal(target[source >= 2], label[source >= 2])
    model = InstantModel.fit(((raw, target) for _, raw, target in samples), ["background", "disc", "square", "triangle"],
                             params=ForestParams(trees=4), threads=1)
    assert sum(model.labelled) == sum(int((t != 255).sum()) for _, _, t in samples)


@pytest.mark.slow
def test_bench_instant_runs_end_to_end_on_tiny_sizes(capsys):
    from segstudio.cli import main

    assert main(["bench", "instant", "--dataset", "demo", "--runs", "1", "--classifiers", "extra32", "rf100",
                 "--side", "64", "--fit-pixels", "500", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "demo-nuclei" and set(result["classifiers"]) == {"rf100", "extra32"}
    assert result["classifiers"]["rf100"]["refresh_ratio_vs_rf100"] == 1.0  # the anchor named last (it failed so)
    extra = result["classifiers"]["extra32"]
    assert extra["refresh_ratio_vs_rf100"] == extra["refresh_s"] / result["classifiers"]["rf100"]["refresh_s"]
    assert 0 < result["classifiers"]["extra32"]["miou"] <= 1 and result["live_refresh"]["total_s"] > 0



def test_a_lone_pixel_vote_is_settled_by_its_neighbours_and_a_straight_edge_stays_put(model, monkeypatch):
    """The trees' votes (fractions) are set here: nucleus on the right half, background on the
    left, and single pixels voted 0.7 for the other class. The proposal keeps the edge exactly
    where the votes put it and gives every lone pixel its neighbours' class."""
    height, width = 40, 60
    votes = np.zeros((height, width), np.float32)
    votes[:, 30:] = 1.0
    lone = [(10, 10), (20, 15), (30, 45), (5, 50)]
    for y, x in lone:
        votes[y, x] = 0.7 if x < 30 else 0.3
    present = model.present

    def fractions(rows, threads=None):
        out = np.zeros((len(rows), len(present)), np.float32)
        out[:, present.index(1)] = votes.ravel()
        out[:, present.index(0)] = 1 - votes.ravel()
        return out

    monkeypatch.setattr(model, "fractions", fractions)
    monkeypatch.setattr(model, "prior_power", 0.0)
    class_map = model.predict(np.zeros((height, width), np.uint8))[0]
    expected = np.zeros((height, width), np.uint8)
    expected[:, 30:] = 1
    assert (class_map == expected).all()
    unsmoothed = (votes > 0.5).astype(np.uint8)
    assert all(unsmoothed[y, x] != expected[y, x] for y, x in lone)  # the votes alone were speckled
    monkeypatch.setattr(model, "probability_sigma", 0.0)  # ilastik's way: each pixel's vote stands
    assert (model.predict(np.zeros((height, width), np.uint8))[0] == unsmoothed).all()
