"""Fitting an image's channels to what a model expects (torch-free, shared by every model kind)."""

from __future__ import annotations

import numpy as np

from segstudio.core.errors import ModelError


def model_channels(stored: int) -> int:
    """The channels models see of an image stored with `stored`: 1 for grey, grey + alpha and
    two-channel images (their first channel), 3 for colour with or without alpha."""
    return 1 if stored <= 2 else 3


def match_channels(image: np.ndarray, in_channels: int) -> np.ndarray:
    """H x W x in_channels view of the image: gray repeated for RGB models, alpha dropped, RGB to
    gray; of two channels (grey + alpha, or two stains) the first."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ModelError(f"cannot predict an image of shape {image.shape}")
    channels = image.shape[2]
    if channels == in_channels:
        return image
    if channels == 2:
        return match_channels(image[:, :, :1], in_channels)
    if channels == 1:
        return np.repeat(image, in_channels, axis=2)
    if channels == 4 and in_channels == 3:
        return image[:, :, :3]
    if channels in (3, 4) and in_channels == 1:
        rgb = image[:, :, :3].astype(np.float32)
        gray = rgb @ np.asarray([0.299, 0.587, 0.114], np.float32)
        return gray.astype(image.dtype)[:, :, None]
    raise ModelError(f"the image has {channels} channels but the model expects {in_channels}")
