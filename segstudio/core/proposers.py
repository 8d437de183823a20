"""One face for every kind of model that proposes: a network bundle, an instant pixel classifier,
or an instant classifier that reads a network's class probabilities beside the filter bank (hybrid).

The ladder (core/ladder.py) scores candidates of different kinds on the same reviewed pixels and
the best one proposes; everything that proposes (the window, `segstudio predict`, the demo, the
benchmarks) goes through `load_proposer`, so a new kind of model is one more class here.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from segstudio.core.errors import ModelError
from segstudio.core.progress import Progress, StopFlag

INSTANT_ARCH = "instant"  # model.json "architecture" of an instant pixel classifier version
HYBRID_ARCH = "instant+network"  # an instant classifier that also reads a network's class probabilities
KINDS = ("instant", "network", "hybrid")
WHOLE = (slice(None), slice(None))  # the whole of an H x W map


class ProposalLike(Protocol):
    class_map: np.ndarray
    confidence: np.ndarray
    entropy: np.ndarray
    uncertainty: float


class Proposer(Protocol):
    kind: str  # one of KINDS
    version: str
    class_names: list[str]

    def predict(self, image: np.ndarray, *, stop: StopFlag | None = None
                ) -> Generator[Progress, None, ProposalLike | None]: ...


def kind_of(arch: str) -> str:
    return {INSTANT_ARCH: "instant", HYBRID_ARCH: "hybrid"}.get(arch, "network")


# what the window calls each kind; short, because the status bar has little room for it
KIND_NAMES = {"instant": "instant classifier", "network": "network", "hybrid": "instant + network"}


@dataclass
class NetworkProposer:
    bundle: object  # ModelBundle
    device: object = "cpu"
    kind: str = "network"

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def class_names(self) -> list[str]:
        return self.bundle.class_names

    def predict(self, image, *, stop=None):
        from segstudio.core.inference import predict

        return (yield from predict(self.bundle, image, device=self.device, stop=stop))


@dataclass
class InstantProposer:
    model: object  # segstudio.core.instant.InstantModel
    version: str = ""
    kind: str = "instant"

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    def predict(self, image, *, stop=None, features: np.ndarray | None = None):
        from segstudio.core.prediction import Prediction

        yield Progress(0, 1, "proposing (instant classifier)")
        if stop is not None and stop.is_set():
            return None
        probabilities = self.model.predict_proba(image if features is None else features)
        return prediction_from_probabilities(probabilities, Prediction)


@dataclass
class HybridProposer:
    """An instant classifier that reads the network's class probabilities as more features: the
    network sees the whole image, the forest learns from every reviewed pixel where it errs."""

    model: object  # segstudio.core.instant.InstantModel with network_planes
    network: NetworkProposer  # the version model.network_version names
    version: str = ""
    kind: str = "hybrid"

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    def predict(self, image, *, stop=None):
        from segstudio.core.prediction import Prediction

        network = yield from self.network.predict(image, stop=stop)
        if network is None:
            return None
        yield Progress(0, 1, f"proposing ({KIND_NAMES[self.kind]})")
        probabilities = self.model.predict_proba(image, planes=ProposalPlanes(network, self.model.num_classes))
        return prediction_from_probabilities(probabilities, Prediction)


class ProposalPlanes:
    """A network proposal's (H, W, K) class-probability planes, made a box at a time when sliced:
    the instant model predicts a big image tile by tile, and the whole stack would cost K float32
    planes of the image (3.2 GB for two classes at 20k x 20k)."""

    def __init__(self, prediction, num_classes: int):
        self.prediction, self.num_classes = prediction, num_classes
        self.shape = (*prediction.class_map.shape, num_classes)

    def __getitem__(self, box: tuple[slice, slice]) -> np.ndarray:
        return network_planes(self.prediction, self.num_classes, box)


def network_planes(prediction, num_classes: int, box: tuple[slice, slice] = WHOLE) -> np.ndarray:
    """(H, W, K) float32: a network proposal's class probabilities (in `box`), as an instant model reads them."""
    return np.ascontiguousarray(proposal_probabilities(prediction, num_classes, box).transpose(1, 2, 0))


def prediction_from_probabilities(probabilities: np.ndarray, factory=None):
    """Class map, confidence, entropy map and mean uncertainty of a (C, H, W) probability stack."""
    if factory is None:
        from segstudio.core.prediction import Prediction as factory
    num_classes = probabilities.shape[0]
    class_map = probabilities.argmax(0).astype(np.uint8 if num_classes <= 255 else np.uint16)
    confidence = probabilities.max(0)
    clipped = np.clip(probabilities, 1e-7, 1.0)
    entropy = -(clipped * np.log(clipped)).sum(0) / max(np.log(num_classes), 1e-7)
    entropy = np.clip(entropy, 0.0, 1.0)
    return factory(class_map, (confidence * 255).astype(np.uint8), (entropy * 255).astype(np.uint8),
                   float(entropy.mean()) if entropy.size else 0.0)


def proposal_probabilities(prediction, num_classes: int, box: tuple[slice, slice] = WHOLE) -> np.ndarray:
    """(K, H, W) class probabilities of a proposal (in `box`), back from its class map and
    confidence (what `prediction_from_probabilities` kept): the chosen class has its confidence,
    the others share the rest evenly (exact for two classes, up to the confidence's 1/255 steps)."""
    confidence = prediction.confidence[box].astype(np.float32) / 255.0
    class_map = prediction.class_map[box]
    rest = (1.0 - confidence) / max(1, num_classes - 1)
    chosen = class_map[None] == np.arange(num_classes, dtype=class_map.dtype)[:, None, None]
    return np.where(chosen, confidence[None], rest[None]).astype(np.float32)


def load_proposer(path: Path, arch: str, *, version: str = "", device=None) -> Proposer:
    """The proposer stored in a model version folder (a network bundle or an instant classifier).

    A hybrid's network is the version its model.json names, in a sibling folder of the project."""
    if kind_of(arch) != "network":
        from segstudio.core.instant.classifier import InstantModel

        model = InstantModel.load(Path(path))
        if kind_of(arch) == "instant":
            if model.network_planes:
                raise ModelError(f"{path} reads a network's output but is registered as a plain instant classifier")
            return InstantProposer(model, version=version)
        if not model.network_planes:
            raise ModelError(f"{path} is registered as reading a network but its model reads none")
        network = load_proposer(Path(path).parent / model.network_version, "network", device=device)
        check_classes(network, model.class_names)
        return HybridProposer(model, network, version=version)
    from segstudio.core.device import pick_device
    from segstudio.core.models.bundle import ModelBundle

    bundle = ModelBundle.load(path)
    bundle.version = version or bundle.version
    target = pick_device(device) if device is None or isinstance(device, str) else device
    bundle.model.to(target).eval()
    return NetworkProposer(bundle, target)


def check_classes(proposer: Proposer, project_names: list[str]) -> None:
    if list(proposer.class_names) != list(project_names):
        raise ModelError(f"model {proposer.version} has classes {proposer.class_names}, the project {project_names}")
