"""The canvas pipeline on plain arrays: colours, hatch, outlines, pyramid levels, tile patches."""

from __future__ import annotations

import mmap
import resource

import numpy as np
import pytest

from segstudio.core.geometry import BBox
from segstudio.gui.canvas.colorize import Palette, outline_mask
from segstudio.gui.canvas.layers import (
    ImageLayer,
    LabelLayer,
    commit_pages,
    level_count,
    level_shape,
)
from segstudio.gui.canvas.tiles import TILE, TileCache

RED, GREEN = (255, 0, 0), (0, 255, 0)


def argb(value: int) -> tuple[int, int, int, int]:
    return (value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255


def test_palette_colours_reviewed_pixels_and_leaves_unlabelled_clear():
    palette = Palette([RED, GREEN])
    label = np.array([[0, 1, 255]], np.uint8)
    source = np.array([[3, 2, 0]], np.uint8)
    pixels = palette.colorize(label, source, (0, 0))
    assert argb(int(pixels[0, 0])) == (255, 255, 0, 0)
    assert argb(int(pixels[0, 1])) == (255, 0, 255, 0)
    assert pixels[0, 2] == 0


def test_unreviewed_proposals_are_hatched_and_lighter():
    palette = Palette([RED, GREEN])
    label = np.ones((16, 16), np.uint8)
    proposals = palette.colorize(label, np.ones((16, 16), np.uint8), (0, 0))
    reviewed = palette.colorize(label, np.full((16, 16), 3, np.uint8), (0, 0))
    alphas = {argb(int(v))[0] for v in proposals.ravel()}
    assert len(alphas) == 2 and max(alphas) == 255 and min(alphas) < 200  # stripes and lighter gaps
    assert {argb(int(v))[0] for v in reviewed.ravel()} == {255}


def test_hidden_class_is_transparent():
    pixels = Palette([RED, GREEN], hidden=[1]).colorize(np.array([[0, 1]], np.uint8), np.array([[3, 3]], np.uint8), (0, 0))
    assert pixels[0, 0] != 0 and pixels[0, 1] == 0


def test_outline_marks_only_region_borders():
    label = np.zeros((6, 6), np.uint8)
    label[2:4, 2:4] = 1
    edge = outline_mask(label)
    assert edge[2, 2] and edge[1, 2] and not edge[0, 0] and not edge[5, 5]


def test_levels_halve_until_one_tile():
    assert level_count((512, 512)) == 1
    assert level_count((16384, 16384)) == 6
    assert level_shape((1000, 777), 2) == (250, 195)


@pytest.mark.parametrize("outline", [False, True])
@pytest.mark.parametrize("shown_level", [None, 1])
def test_tile_patches_match_a_fresh_render_after_edits(outline, shown_level):
    """Recolouring only the changed box must give exactly what a full re-render gives."""
    rng = np.random.default_rng(1)
    shape = (1300, 1100)
    label = rng.integers(0, 3, shape).astype(np.uint8)
    source = rng.integers(0, 4, shape).astype(np.uint8)
    layer = LabelLayer(label, source, Palette([RED, GREEN, (0, 0, 255)]), outline)
    cache = TileCache(layer)
    for level in range(cache.levels):
        for ty, tx in cache.tiles_in(level, BBox.from_shape(level_shape(shape, level))):
            cache.tile(level, ty, tx)
    for box in (BBox(100, 100, 140, 160), BBox(500, 505, 530, 530), BBox(1000, 0, 1300, 700)):
        label[box.slices] = rng.integers(0, 3, (box.height, box.width))
        source[box.slices] = 3
        cache.refresh(box.grow(1).clip(shape), shown_level)
    if shown_level is not None:  # tiles of other levels under an edit were dropped, not patched
        assert (0, 0, 0) not in cache._tiles and (shown_level, 0, 0) in cache._tiles
    fresh = TileCache(LabelLayer(label, source, layer.palette, outline))
    for level in range(cache.levels):
        for ty, tx in cache.tiles_in(level, BBox.from_shape(level_shape(shape, level))):
            cache.tile(level, ty, tx)  # remakes a dropped tile
            patched = cache._tiles[(level, ty, tx)][0]
            fresh.tile(level, ty, tx)
            np.testing.assert_array_equal(patched, fresh._tiles[(level, ty, tx)][0], err_msg=f"level {level} tile {ty},{tx}")


def _untouched_zeros(shape: tuple[int, int]) -> np.ndarray:
    """Zeros in fresh anonymous memory, no page mapped yet: np.zeros may hand back pages the
    process mapped before (proposals keep freed memory, core/models/allocator.py), and then
    neither array below would fault, mapped up front or not."""
    return np.frombuffer(mmap.mmap(-1, shape[0] * shape[1]), np.uint8).reshape(shape)


def _faults_writing_spread_bytes(array: np.ndarray) -> int:
    """Minor page faults of this thread while one byte is written in each of 16 spans of `array`."""
    flat = array.reshape(-1)
    spots = np.arange(16) * (flat.size // 16) + 123  # one byte in each of 16 512 KB spans
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    flat[spots] = 1
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def test_shown_mask_memory_is_mapped_before_the_first_edit():
    """A fresh np.zeros mask is mapped on first write (a 2 MB huge page took 4-10 ms): the layer
    maps it up front, keeping the values, so painting into untouched memory faults no more.

    Compared with the same writes into untouched memory (at least one fault per 2 MB page); a
    fault or two from elsewhere in the process (the kernel reclaiming a page under memory
    pressure) is tolerated: an exact "no fault" check failed once in a loaded CI run."""
    label = np.full((1024, 8192), 255, np.uint8)
    source = _untouched_zeros((1024, 8192))  # 8 MB, never written: no memory behind it yet
    source[7, 9] = 2
    LabelLayer(label, source, Palette([RED]))
    mapped = _faults_writing_spread_bytes(source)
    unmapped = _faults_writing_spread_bytes(_untouched_zeros((1024, 8192)))
    assert unmapped >= 4 and mapped <= 2, (mapped, unmapped)
    assert source[7, 9] == 2 and int(source.sum()) == 2 + 16 and (label == 255).all()


def test_commit_pages_leaves_views_it_cannot_write_through_alone():
    strided = np.zeros((64, 64), np.uint8)[:, ::2]
    commit_pages(strided)  # not contiguous: skipped, no copy written in its place
    read_only = np.zeros(8, np.uint8)
    read_only.flags.writeable = False
    commit_pages(read_only)
    assert not strided.any() and not read_only.any()


def test_image_pyramid_and_tile_pixels():
    rgb = np.zeros((TILE + 10, 20, 3), np.uint8)
    rgb[..., 0] = 200
    cache = TileCache(ImageLayer(rgb))
    image = cache.tile(0, 1, 0)
    assert (image.width(), image.height()) == (20, 10)
    assert argb(image.pixel(3, 3))[1:] == (200, 0, 0)
    assert cache.levels == 2


def test_a_grey_picture_stays_grey_in_the_pyramid_and_draws_as_its_rgb_form():
    grey = np.random.default_rng(0).integers(0, 256, (TILE * 2 + 37, 700, 1), dtype=np.uint8)
    grey_layer, rgb_layer = ImageLayer(grey), ImageLayer(np.repeat(grey, 3, axis=2))
    assert all(level.ndim == 2 for level in grey_layer.levels)  # a third of the memory of RGB levels
    assert len(grey_layer.levels) == len(rgb_layer.levels)
    for level in range(len(grey_layer.levels)):
        box = BBox(0, 0, *grey_layer.levels[level].shape[:2])
        assert np.array_equal(grey_layer.render(level, box), rgb_layer.render(level, box))


def test_tile_cache_stays_within_its_budget():
    layer = ImageLayer(np.zeros((2048, 2048, 3), np.uint8))
    cache = TileCache(layer, budget_bytes=3 * TILE * TILE * 4)
    for ty in range(4):
        for tx in range(4):
            cache.tile(0, ty, tx)
    assert cache.nbytes <= 3 * TILE * TILE * 4


def test_idle_canvas_makes_the_tiles_around_the_view(qtbot):
    from segstudio.gui.canvas.view import CanvasView

    canvas = CanvasView()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    size = 4 * TILE
    canvas.set_content(np.zeros((size, size, 3), np.uint8), np.full((size, size), 255, np.uint8),
                       np.zeros((size, size), np.uint8), Palette([RED, GREEN]))
    canvas.set_view(1.0, (size / 2, size / 2))  # shows parts of the four middle tiles
    canvas.repaint()
    assert not canvas._image.has(0, 0, 0)
    qtbot.waitUntil(lambda: not canvas.missing_tiles_near_view(), timeout=10_000)
    assert canvas._image.has(0, 0, 0) and canvas._labels.has(0, 3, 3)  # the ring around the view
