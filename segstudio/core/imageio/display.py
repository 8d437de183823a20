"""Turning decoded pixels into what the screen shows: upright, RGB, 8 bits."""

from __future__ import annotations

import math

import cv2
import numpy as np

_DISPLAY_PERCENTILES = (0.5, 99.5)
_SAMPLE_PIXELS = 2_000_000  # percentiles are estimated on about this many pixels


def apply_orientation(array: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn an array upright for an EXIF/TIFF orientation value (1-8), as viewers do."""
    flipped = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a[::-1].swapaxes(0, 1),  # 90 degrees clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: a[:, ::-1].swapaxes(0, 1),  # 90 degrees counter-clockwise
    }.get(orientation)
    return array if flipped is None else flipped(array)


def to_display(raw: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """H x W x 3 uint8 RGB for the screen: alpha composited on black, other depths scaled.

    16-bit, float and other integer images are stretched between their 0.5th and 99.5th
    percentiles, so a dim microscopy image is visible and a few hot pixels do not wash it out.
    """
    notes = [] if notes is None else notes
    channels = raw.shape[2]
    colour = raw[:, :, :3] if channels >= 3 else raw[:, :, :1]
    alpha = raw[:, :, 3] if channels == 4 else (raw[:, :, 1] if channels == 2 else None)
    if channels > 4:
        notes.append(f"{channels} channels: the first three are shown as red, green and blue")
    if raw.dtype == np.uint8:
        display = colour
    elif raw.dtype == np.bool_:
        display = colour.astype(np.uint8) * 255
    else:
        display = stretch(colour, notes)
        if alpha is not None:
            alpha = stretch(alpha[:, :, None], [])[:, :, 0]
    if alpha is not None:
        display = (display.astype(np.uint16) * alpha[:, :, None].astype(np.uint16) // 255).astype(np.uint8)
        notes.append("transparent parts are shown on black")
    if display.shape[2] == 1:  # grey shown as RGB; OpenCV copies it 5-10 times faster than np.repeat
        display = cv2.cvtColor(np.ascontiguousarray(display[:, :, 0]), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(display)


def stretch(values: np.ndarray, notes: list[str]) -> np.ndarray:
    """Scale to uint8 between robust percentiles, in row blocks to keep temporaries small."""
    step = max(1, math.isqrt(values.shape[0] * values.shape[1] // _SAMPLE_PIXELS))
    sample = values[::step, ::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        notes.append("no finite values: shown black")
        return np.zeros(values.shape, np.uint8)
    low, high = np.percentile(sample, _DISPLAY_PERCENTILES)
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    scale = 255.0 / (high - low) if high > low else 0.0
    notes.append(f"{values.dtype} values {low:.6g} to {high:.6g} stretched to 0-255 for display")
    if values.dtype == np.uint16:  # the same arithmetic once per possible value, then a table look-up
        return _scaled(np.arange(65536, dtype=np.uint16), low, scale)[values]
    return _scaled(values, low, scale)


def _scaled(values: np.ndarray, low: float, scale: float) -> np.ndarray:
    out = np.empty(values.shape, np.uint8)
    for y in range(0, values.shape[0], 1024):
        block = (values[y : y + 1024].astype(np.float32) - np.float32(low)) * np.float32(scale)
        np.nan_to_num(block, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        out[y : y + 1024] = np.clip(block, 0, 255).astype(np.uint8)
    return out


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    ink = cmyk.astype(np.uint16)
    white = 255 - ink[:, :, 3:4]
    return ((255 - ink[:, :, :3]) * white // 255).astype(np.uint8)
