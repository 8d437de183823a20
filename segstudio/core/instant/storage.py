"""An instant model on disk: model.json + forest.safetensors, and nothing that can run code.

model.json says what the model is (kind "instant", classes, feature spec, library and forest
parameters, pixels it learnt from, when) and carries the SHA-256 and size of the arrays file.
Loading refuses anything that is not exactly ours before it builds a single tree: a foreign or
newer model.json, a checksum or size that does not match, arrays of unexpected names, types or
shapes, node indices outside their tree, features beyond the feature spec, classes beyond the
class list, a network version that is not a plain version name. An auto-context forest is stored
beside the first, its arrays named "context.*". A model that reads a network's class probabilities
names the network's version (a sibling folder of the same project) under features.network.
No pickle is read or written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np

from segstudio.core.atomic import atomic_write_bytes, atomic_write_text
from segstudio.core.errors import ModelError
from segstudio.core.instant.context import MAX_CONTEXT_SIGMA, context_count
from segstudio.core.instant.features import FILTERS, PERCENTILES, feature_names
from segstudio.core.instant.forest import ForestParams, trees_from_arrays, trees_to_arrays

MODEL_JSON = "model.json"
ARRAYS_FILE = "forest.safetensors"
KIND = "instant"
FORMAT = 1
MAX_JSON_BYTES = 4 << 20
MAX_ARRAY_BYTES = 2 << 30
MAX_CLASSES = 65535
MAX_CHANNELS = 64
MAX_SIGMAS = 32
MAX_CONTEXT_SIGMAS = 8
CONTEXT_PREFIX = "context."
NETWORK_VERSION = re.compile(r"v[0-9]{4,9}")  # what Project.new_model_version names: never a path


def save_model(model, folder: Path) -> None:
    """Write the arrays, then model.json (its presence marks a complete model)."""
    from safetensors.numpy import save

    folder.mkdir(parents=True, exist_ok=True)
    arrays = trees_to_arrays(model.trees)
    if model.context_trees is not None:
        arrays.update({CONTEXT_PREFIX + name: values for name, values in trees_to_arrays(model.context_trees).items()})
    data = save(arrays, metadata={"kind": KIND})
    atomic_write_bytes(folder / ARRAYS_FILE, data)
    atomic_write_text(folder / MODEL_JSON, json.dumps(_describe(model, data), indent=2) + "\n")


def load_model(cls, folder: Path):
    meta = _read_json(folder / MODEL_JSON)
    try:
        class_names, channels, sigmas, params, present, labelled, sampled = _check_meta(meta)
        seed, created_at = int(meta.get("seed", 0)), str(meta["created_at"])
        prior_power = _prior_power(meta.get("prior_power", 0.0))  # models saved before it had none
        # nor this (they never smoothed); bounded, so a stranger's file cannot ask for an image-wide kernel
        probability_sigma = _number_in("probability_sigma", meta.get("probability_sigma", 0.0), 0.0, 8.0)
        context_sigmas = _context_sigmas(meta.get("context"))  # models saved before it had one stage
        network_planes, network_version = _network(meta["features"].get("network"), len(class_names))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{folder / MODEL_JSON} is not a valid instant model: {exc!r}") from exc
    arrays = _read_arrays(folder / ARRAYS_FILE, meta["arrays"])
    context_arrays = {name[len(CONTEXT_PREFIX):]: arrays.pop(name) for name in list(arrays)
                      if name.startswith(CONTEXT_PREFIX)}
    features = len(feature_names(channels, sigmas)) + network_planes
    trees = trees_from_arrays(arrays, trees=params.trees, features=features, classes=len(present))
    context_trees = None
    if context_sigmas:
        context_trees = trees_from_arrays(context_arrays, trees=params.trees, classes=len(present),
                                          features=features + context_count(len(class_names), context_sigmas))
    elif context_arrays:
        raise ModelError(f"{folder / ARRAYS_FILE} holds an auto-context forest that model.json does not describe")
    return cls(class_names, trees, channels=channels, sigmas=sigmas, params=params, present=present,
               labelled=labelled, sampled=sampled, seed=seed, created_at=created_at, prior_power=prior_power,
               probability_sigma=probability_sigma, context_trees=context_trees, context_sigmas=context_sigmas,
               network_planes=network_planes, network_version=network_version)


def _describe(model, data: bytes) -> dict:
    import sklearn

    names = model.class_names
    return {
        "kind": KIND,
        "format": FORMAT,
        "classes": names,
        "features": {"channels": model.channels, "sigmas": list(model.sigmas), "count": model.num_features,
                     "filters": [name for name, _ in FILTERS],
                     "normalisation": {"method": "percentiles", "low": PERCENTILES[0], "high": PERCENTILES[1]},
                     "network": ({"version": model.network_version, "planes": model.network_planes}
                                 if model.network_planes else None)},
        "library": {"name": "scikit-learn", "version": sklearn.__version__,
                    "estimator": "ExtraTreesClassifier" if model.params.kind == "extra_trees" else "RandomForestClassifier"},
        "params": model.params.to_json(),
        "present_classes": model.present,
        "train_pixels": {"labelled": dict(zip(names, model.labelled)), "sampled": dict(zip(names, model.sampled))},
        "prior_power": model.prior_power,
        "probability_sigma": model.probability_sigma,
        "context": {"sigmas": list(model.context_sigmas)} if model.context_trees is not None else None,
        "seed": model.seed,
        "created_at": model.created_at,
        "arrays": {"file": ARRAYS_FILE, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    }


def saved_prior_power(folder: Path) -> float:
    """The prior power a saved instant model used (0 when it cannot be read): where a reopened
    project's tier starts, so its proposals do not change before there is new evidence."""
    try:
        return _prior_power(_read_json(folder / MODEL_JSON).get("prior_power", 0.0))
    except (ModelError, ValueError, TypeError):
        return 0.0


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"{path.parent} is not an instant model: {MODEL_JSON} is missing")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ModelError(f"{path} is too large to be an instant model's description")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ModelError(f"{path} does not describe an instant model")
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path} has instant model format {meta.get('format')!r}; this SegStudio reads {FORMAT}")
    return meta


def _check_meta(meta: dict):
    names = meta["classes"]
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_CLASSES or not all(isinstance(n, str) for n in names):
        raise ValueError("classes must be a list of 1 to 65535 names")
    spec = meta["features"]
    channels, sigmas = spec["channels"], spec["sigmas"]
    if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"input channels {channels!r} out of range")
    if not isinstance(sigmas, list) or not 1 <= len(sigmas) <= MAX_SIGMAS or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and 0.1 <= s <= 64 for s in sigmas):
        raise ValueError(f"feature scales {sigmas!r} out of range")
    sigmas = tuple(float(s) for s in sigmas)
    network = spec.get("network")
    planes = network.get("planes", 0) if isinstance(network, dict) else 0
    if spec["count"] != len(feature_names(channels, sigmas)) + planes or spec["filters"] != [name for name, _ in FILTERS]:
        raise ValueError("the feature spec does not match this SegStudio's filter bank")
    present = meta["present_classes"]
    if not isinstance(present, list) or not present or present != sorted(set(present)) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(names) for c in present):
        raise ValueError("present_classes must be sorted, distinct class ids within the class list")
    pixels = meta["train_pixels"]
    labelled = [int(pixels["labelled"][n]) for n in names]
    sampled = [int(pixels["sampled"][n]) for n in names]
    return names, channels, sigmas, ForestParams.from_json(meta["params"]), present, labelled, sampled


def _network(value, num_classes: int) -> tuple[int, str | None]:
    """(planes, network version) of a model that reads a network's class probabilities, (0, None)
    for one that does not. One plane per class, and a plain version name: the loader finds the
    network beside the model, so a path here would reach outside the project."""
    if value is None:
        return 0, None
    planes, version = value["planes"], value["version"]
    if not isinstance(planes, int) or isinstance(planes, bool) or planes != num_classes:
        raise ValueError(f"network planes {planes!r}: expected one per class ({num_classes})")
    if not isinstance(version, str) or not NETWORK_VERSION.fullmatch(version):
        raise ValueError(f"network version {version!r} is not a model version name")
    return planes, version


def _context_sigmas(value) -> tuple[float, ...]:
    """The auto-context smoothing scales (empty: one stage), bounded so that a stranger's file
    cannot ask for image-wide kernels or thousands of extra features."""
    if value is None:
        return ()
    sigmas = value["sigmas"]
    if not isinstance(sigmas, list) or not 1 <= len(sigmas) <= MAX_CONTEXT_SIGMAS:
        raise ValueError(f"auto-context scales {sigmas!r}: expected a list of 1 to {MAX_CONTEXT_SIGMAS}")
    return tuple(_number_in("auto-context sigma", s, 0.1, MAX_CONTEXT_SIGMA) for s in sigmas)


def _prior_power(value) -> float:
    return _number_in("prior_power", value, 0.0, 1.0)


def _number_in(name: str, value, low: float, high: float) -> float:
    """A number of model.json within [low, high], else ValueError naming it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} {value!r} is not between {low:g} and {high:g}")
    return float(value)


def _read_arrays(path: Path, expected: dict) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if not isinstance(expected, dict) or expected.get("file") != ARRAYS_FILE:
        raise ModelError(f"{path.parent / MODEL_JSON} does not name its arrays file")
    if not path.is_file():
        raise ModelError(f"the instant model's arrays {path} are missing")
    size = path.stat().st_size
    if size > MAX_ARRAY_BYTES or size != expected.get("bytes"):
        raise ModelError(f"{path} is {size} bytes, not the {expected.get('bytes')} its model.json records")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise ModelError(f"{path} does not match the checksum in model.json: it was changed or damaged")
    try:
        return load(data)
    except (SafetensorError, ValueError, OSError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
