"""New splits: exact sizes, reproducible, and a rare class reaches every split that can hold it."""

from __future__ import annotations

import pytest

from segstudio.core.errors import FormatError
from segstudio.core.formats.splits import parse_ratios, split_sizes, stratified_split


def test_a_rare_class_on_3_of_30_images_lands_in_train_val_and_test():
    presence = {i: frozenset({0, 1} | ({2} if i in (4, 17, 23) else set())) for i in range(30)}
    splits = stratified_split(presence, (0.8, 0.1, 0.1), seed=7)
    assert sorted(splits.values()).count("train") == 24
    assert sorted(splits.values()).count("val") == 3
    assert sorted(splits.values()).count("test") == 3
    assert {splits[i] for i in (4, 17, 23)} == {"train", "val", "test"}


def test_every_class_in_every_split_for_several_rare_classes():
    presence = {i: frozenset({0} | {c for c in (1, 2, 3) if i % (4 + c) == 0}) for i in range(40)}
    splits = stratified_split(presence, (0.6, 0.2, 0.2), seed=1)
    for cls in (1, 2, 3):
        holders = {splits[i] for i in presence if cls in presence[i]}
        assert holders == {"train", "val", "test"}, cls


def test_same_seed_same_splits_other_seed_other_splits():
    presence = {i: frozenset({i % 3}) for i in range(50)}
    first = stratified_split(presence, (0.8, 0.1, 0.1), seed=3)
    assert first == stratified_split(presence, (0.8, 0.1, 0.1), seed=3)
    assert first != stratified_split(presence, (0.8, 0.1, 0.1), seed=4)


def test_sizes_sum_to_the_count_and_follow_the_ratios():
    assert split_sizes(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert sum(split_sizes(7, (0.5, 0.25, 0.25))) == 7
    assert split_sizes(5, (1.0, 0.0, 0.0)) == [5, 0, 0]


def test_ratios_are_parsed_and_bad_ones_explained():
    assert parse_ratios("8,1,1") == pytest.approx((0.8, 0.1, 0.1))
    assert parse_ratios("0.9,0.1") == pytest.approx((0.9, 0.1, 0.0))
    for bad in ("a,b,c", "-1,1,1", "0,0,0", "1,1,1,1"):
        with pytest.raises(FormatError):
            parse_ratios(bad)
