"""Turning decoded pixels into what the screen shows: upright, 8 bits, grey or RGB."""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core.imageio import workers

DISPLAY_PERCENTILES = (0.5, 99.5)  # the automatic display limits
_SAMPLE_PIXELS = 1_000_000  # percentiles are estimated on about this many pixels
_BLOCK_ROWS = 256  # rows scaled at a time: the block and its RGB copy stay in the cache
_NARROW = frozenset(map(np.dtype, (np.uint8, np.int8, np.uint16, np.int16)))  # scaled by OpenCV as they are
_PARALLEL_PIXELS = 4_000_000  # from here on blocks are scaled on all cores (OpenCV frees the GIL)


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


def to_display(raw: np.ndarray, notes: list[str] | None = None,
               limits: tuple[float, float] | None = None) -> np.ndarray:
    """H x W x 3 uint8 RGB for the screen: `to_picture`, grey made RGB in the same pass."""
    return _picture(raw, [] if notes is None else notes, limits, rgb=True, last_is_alpha=None)


def to_picture(raw: np.ndarray, notes: list[str] | None = None,
               limits: tuple[float, float] | None = None, alpha: bool | None = None) -> np.ndarray:
    """What the screen shows, uint8: H x W x 1 for grey images (made RGB only where RGB is
    needed, `as_rgb`: the canvas draws grey tiles), H x W x 3 RGB for the rest; alpha
    composited on black, other depths scaled.

    16-bit, float and other integer images are stretched between their 0.5th and 99.5th
    percentiles, so a dim microscopy image is visible and a few hot pixels do not wash it out.
    `limits` (low, high) replaces that choice (and stretches 8-bit images too): values at or
    below low are black, at or above high white. Alpha is never stretched by `limits`.
    `alpha`: whether the last channel of a 2- or 4-channel image is transparency (None: it is,
    as in PNG; a TIFF says so itself). 8-bit pictures without limits share memory with `raw`.
    """
    return _picture(raw, [] if notes is None else notes, limits, rgb=False, last_is_alpha=alpha)


def as_rgb(picture: np.ndarray) -> np.ndarray:
    """H x W x 3 of a picture: grey copied to three channels (OpenCV: 5-10 times np.repeat)."""
    if picture.ndim == 3 and picture.shape[2] == 3:
        return picture
    return cv2.cvtColor(np.ascontiguousarray(picture.reshape(picture.shape[:2])), cv2.COLOR_GRAY2RGB)


def _picture(raw: np.ndarray, notes: list[str], limits: tuple[float, float] | None, rgb: bool,
             last_is_alpha: bool | None) -> np.ndarray:
    channels = raw.shape[2]
    colour = raw[:, :, :3] if channels >= 3 else raw[:, :, :1]
    has_alpha = channels in (2, 4) and last_is_alpha is not False
    alpha = raw[:, :, channels - 1] if has_alpha else None
    if channels == 2 and not has_alpha:
        notes.append("2 channels: the first is shown, and models see only that one")
    elif channels > 3 and not has_alpha:
        notes.append(f"{channels} channels: the first three are shown as red, green and blue")
    grey_out = rgb and alpha is None and colour.shape[2] == 1  # scaled straight into RGB, one pass
    if raw.dtype == np.bool_:
        display = colour.astype(np.uint8) * 255
    elif raw.dtype == np.uint8 and limits is None:
        display = colour
    else:
        display = stretch(colour, notes, limits, rgb=grey_out)
        if alpha is not None and raw.dtype != np.uint8:  # alpha spans its type: 0 clear, max opaque
            full = np.iinfo(raw.dtype).max if raw.dtype.kind in "iu" else 1.0
            alpha = scale_to_uint8(alpha[:, :, None], 0, full)[:, :, 0]
    if alpha is not None:
        display = (display.astype(np.uint16) * alpha[:, :, None].astype(np.uint16) // 255).astype(np.uint8)
        notes.append("transparent parts are shown on black")
    if rgb:
        display = as_rgb(display)
    return np.ascontiguousarray(display)


def adjustable(raw: np.ndarray) -> bool:
    """Whether display limits mean something for this image: grey ones and every deep one.

    An 8-bit colour photo is shown as stored; stretching its channels alike would only dim it.
    """
    return raw.dtype != np.bool_ and (raw.dtype != np.uint8 or raw.shape[2] <= 2)


def display_range(values: np.ndarray, percentiles: tuple[float, float] = DISPLAY_PERCENTILES) -> tuple[float, float] | None:
    """The automatic display limits of H x W x C values: robust percentiles of a sample of
    about a million pixels (the whole range when they coincide); None when none is finite.

    8- and 16-bit integers are counted in a histogram (a few milliseconds at 8k); the
    percentiles are the sample's own values (numpy's "inverted_cdf"), for every type alike.
    """
    step = max(1, math.isqrt(values.shape[0] * values.shape[1] // _SAMPLE_PIXELS))
    sample = values[::step, ::step].ravel()
    if sample.dtype.kind in "ui" and sample.dtype.itemsize <= 2:
        offset = int(np.iinfo(sample.dtype).min)
        counts = np.bincount(sample.astype(np.int32) - offset if offset else sample)
        cumulative = np.cumsum(counts)
        low, high = (int(np.searchsorted(cumulative, cumulative[-1] * p / 100)) + offset for p in percentiles)
        nonzero = np.flatnonzero(counts)
        whole = (int(nonzero[0]) + offset, int(nonzero[-1]) + offset)
    else:
        sample = sample.astype(np.float64)
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return None
        low, high = np.percentile(sample, percentiles, method="inverted_cdf")
        whole = (sample.min(), sample.max())
    if high <= low:
        low, high = whole
    return float(low), float(high)


def stretch(values: np.ndarray, notes: list[str], limits: tuple[float, float] | None = None,
            rgb: bool = False) -> np.ndarray:
    """Scale H x W x C values to uint8 between `limits` (default: `display_range`); with
    `rgb`, one grey channel comes out as H x W x 3 in the same pass."""
    if limits is None:
        limits = display_range(values)
        if limits is None:
            notes.append("no finite values: shown black")
            return np.zeros(values.shape[:2] + ((3,) if rgb else values.shape[2:]), np.uint8)
        notes.append(f"{values.dtype} values {limits[0]:.6g} to {limits[1]:.6g} stretched to 0-255 for display")
    else:
        notes.append(f"display limits {limits[0]:.6g} to {limits[1]:.6g}")
    return scale_to_uint8(values, *limits, rgb=rgb)


def scale_to_uint8(values: np.ndarray, low: float, high: float, rgb: bool = False) -> np.ndarray:
    """round((v - low) * 255 / (high - low)), saturated to 0-255, NaN black: one OpenCV pass.

    `cv2.addWeighted(v, a, v, 0, b, dtype=CV_8U)` computes saturate(v * a + b) straight into
    uint8 (where a 65,536-entry look-up took 4-5 times longer at 8k), in row blocks that stay in
    the cache while grey becomes RGB, spread over the cores for big images. Types OpenCV does not scale, and every type whose scaled
    values could leave the range of an int (floats, wide ints), are clipped to the limits first.
    """
    low, high = float(low), float(high)
    scale = 255.0 / (high - low) if high > low else 0.0
    height, width, channels = values.shape
    out = np.empty((height, width, 3 if rgb and channels == 1 else channels), np.uint8)
    exact = values.dtype in _NARROW
    into_rgb = out.shape[2] != channels

    def scale_block(y: int) -> None:
        block = np.ascontiguousarray(values[y : y + _BLOCK_ROWS])
        if not exact:
            block = np.clip(block, low, high, dtype=np.float64 if block.dtype == np.float64 else np.float32)
        if into_rgb:
            scaled = cv2.addWeighted(block, scale, block, 0.0, -low * scale, dtype=cv2.CV_8U)
            cv2.cvtColor(scaled, cv2.COLOR_GRAY2RGB, dst=out[y : y + _BLOCK_ROWS])
        else:  # straight into the picture: no block copied
            cv2.addWeighted(block, scale, block, 0.0, -low * scale, dst=out[y : y + _BLOCK_ROWS], dtype=cv2.CV_8U)

    starts = range(0, height, _BLOCK_ROWS)
    if height * width >= _PARALLEL_PIXELS and len(starts) > 1 and workers.cores() > 1:
        list(workers.pool().map(scale_block, starts))  # 8k 16-bit grey: 28 -> 20 ms on 2 cores (issue 15)
    else:
        for y in starts:
            scale_block(y)
    return out


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    ink = cmyk.astype(np.uint16)
    white = 255 - ink[:, :, 3:4]
    return ((255 - ink[:, :, :3]) * white // 255).astype(np.uint8)
