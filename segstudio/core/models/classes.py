"""What a model's outputs mean: class names, colours, and how raw pixels become its input."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segstudio.core.errors import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Distinct default colours (PASCAL VOC's first entries) for classes declared by name only.
_PALETTE = [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128),
            (128, 128, 128), (64, 0, 0), (192, 0, 0), (64, 128, 0), (192, 128, 0), (64, 0, 128), (192, 0, 128),
            (64, 128, 128), (192, 128, 128), (0, 64, 0), (128, 64, 0), (0, 192, 0), (128, 192, 0), (0, 64, 128)]


@dataclass(frozen=True)
class ModelClass:
    """Output channel i of the model means the class `name`, drawn in `color`."""

    name: str
    color: tuple[int, int, int]


def default_color(index: int) -> tuple[int, int, int]:
    if index < len(_PALETTE):
        return _PALETTE[index]
    rng = np.random.default_rng(index)
    return tuple(int(v) for v in rng.integers(32, 256, 3))


def as_model_classes(classes: Iterable[Any]) -> list[ModelClass]:
    """Accepts names, (name, colour) pairs, ModelClass or anything with .name and .color."""
    result = []
    for index, item in enumerate(classes):
        if isinstance(item, ModelClass):
            result.append(item)
        elif isinstance(item, str):
            result.append(ModelClass(item, default_color(index)))
        elif hasattr(item, "name") and hasattr(item, "color"):
            result.append(ModelClass(str(item.name), tuple(int(c) for c in item.color)))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            result.append(ModelClass(str(item[0]), tuple(int(c) for c in item[1])))
        elif isinstance(item, dict):
            result.append(ModelClass(str(item["name"]), tuple(int(c) for c in item.get("color", default_color(index)))))
        else:
            raise ModelError(f"cannot read class #{index} ({item!r}): give a name or (name, colour)")
    names = [c.name for c in result]
    if not result:
        raise ModelError("a model needs at least one class")
    if len(set(names)) != len(names):
        raise ModelError(f"class names must be unique: {names}")
    return result


DATA_PERCENTILES = (0.5, 99.5)


@dataclass(frozen=True)
class Normalisation:
    """input = (raw * scale - mean[c]) / std[c] per channel c.

    Two kinds share this one affine form, so prediction, training and export apply them alike:
    "container" (scale from the pixel type: 8-bit / 255, 16-bit / 65535) and "percentiles",
    measured on a model's training images: the raw values `low[c]` and `high[c]` at the given
    percentiles play the part of 0 and 1 (scale 1, mean and std in raw units). A 12-bit image
    in a 16-bit file, or one using values 0-235, then reaches the network with full contrast.
    model.json files without "method" are container normalisations and load as before.
    """

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    low: tuple[float, ...] | None = None  # raw values that map to 0 / 1 (percentiles only)
    high: tuple[float, ...] | None = None
    percentiles: tuple[float, float] | None = None

    @classmethod
    def default(cls, in_channels: int, dtype: str = "uint8") -> Normalisation:
        """ImageNet statistics for RGB, a neutral centring otherwise; scale from the pixel type."""
        scale = {"uint8": 1 / 255, "uint16": 1 / 65535}.get(str(dtype), 1.0)
        if in_channels == 3:
            return cls(scale, IMAGENET_MEAN, IMAGENET_STD)
        return cls(scale, (0.5,) * in_channels, (0.25,) * in_channels)

    @classmethod
    def from_data(cls, pixels: np.ndarray, percentiles: tuple[float, float] = DATA_PERCENTILES) -> Normalisation:
        """Robust per-channel range of N x C raw sample pixels: the percentiles become 0 and 1,
        then the default centring (ImageNet's for RGB) applies as for an 8-bit image."""
        samples = np.asarray(pixels, np.float64).reshape(len(pixels), -1)
        channels = samples.shape[1]
        low, high = np.percentile(samples, percentiles, axis=0) if len(samples) else (np.zeros(channels),) * 2
        high = np.where(high > low, high, low + 1.0)  # a constant channel: keep it finite
        base = cls.default(channels, "float")
        spread = high - low
        mean = low + np.asarray(base.mean) * spread
        std = np.asarray(base.std) * spread
        return cls(1.0, _floats(mean), _floats(std), _floats(low), _floats(high),
                   (float(percentiles[0]), float(percentiles[1])))

    @property
    def method(self) -> str:
        return "percentiles" if self.low is not None else "container"

    def check(self, in_channels: int) -> None:
        if len(self.mean) != in_channels or len(self.std) != in_channels:
            raise ModelError(f"normalisation has {len(self.mean)} means / {len(self.std)} stds "
                             f"for {in_channels} input channels")
        if any(s <= 0 for s in self.std) or self.scale <= 0:
            raise ModelError("normalisation std and scale must be positive")

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """H x W x C (or H x W) raw pixels -> C x H x W float32 model input."""
        pixels = raw[:, :, None] if raw.ndim == 2 else raw
        if pixels.shape[2] != len(self.mean):
            raise ModelError(f"the image has {pixels.shape[2]} channels, the model expects {len(self.mean)}")
        mean = np.asarray(self.mean, np.float32) / np.float32(self.scale)
        inv = np.float32(self.scale) / np.asarray(self.std, np.float32)
        out = pixels.astype(np.float32)
        out -= mean
        out *= inv
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def unit(self, raw: np.ndarray) -> np.ndarray:
        """H x W x C raw pixels on a 0..1 scale (float32, not clipped): what an 8-bit image / 255 is."""
        if self.low is None:
            return raw.astype(np.float32) * np.float32(self.scale)
        low, high = np.asarray(self.low, np.float32), np.asarray(self.high, np.float32)
        return (raw.astype(np.float32) - low) / (high - low)

    def contrast(self, low: Sequence[float], high: Sequence[float]) -> float:
        """The smallest per-channel span, in model input units, of raw values low[c]..high[c]."""
        spans = [(h - lo) * self.scale / s for lo, h, s in zip(low, high, self.std)]
        return float(min(spans)) if spans else 0.0

    def to_json(self) -> dict:
        data = {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}
        if self.low is not None:
            data.update(method="percentiles", percentiles=list(self.percentiles or DATA_PERCENTILES),
                        low=list(self.low), high=list(self.high))
        return data

    @classmethod
    def from_json(cls, data: dict) -> Normalisation:
        floats = lambda key: _floats(data[key]) if data.get(key) is not None else None  # noqa: E731
        percentiles = floats("percentiles")
        return cls(float(data["scale"]), _floats(data["mean"]), _floats(data["std"]), floats("low"), floats("high"),
                   percentiles if percentiles is None else (percentiles[0], percentiles[1]))


def _floats(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def class_mapping(model_names: Sequence[str], project_names: Sequence[str], *, allow_mapping: bool,
                  ignore: int = 255) -> dict[int, int] | None:
    """None when the classes are the same; else a model id -> project id map (by name).

    Without `allow_mapping` a difference is refused with a message that says what differs.
    Model classes the project lacks map to `ignore` (the pixels stay unlabelled).
    """
    if list(model_names) == list(project_names):
        return None
    missing = [n for n in project_names if n not in model_names]
    extra = [n for n in model_names if n not in project_names]
    parts = []
    if extra:
        parts.append(f"the model has classes the project lacks: {', '.join(extra)}")
    if missing:
        parts.append(f"the project has classes the model lacks: {', '.join(missing)}")
    if not parts:
        parts.append(f"same classes in another order (model: {', '.join(model_names)}; "
                     f"project: {', '.join(project_names)})")
    if not allow_mapping:
        raise ModelError("the model's classes differ from the project's: " + "; ".join(parts)
                         + ". Map them by name to use it anyway.")
    if not set(model_names) & set(project_names):
        raise ModelError("the model shares no class name with the project: " + "; ".join(parts))
    return {i: (project_names.index(n) if n in project_names else ignore) for i, n in enumerate(model_names)}
