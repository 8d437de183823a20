"""New train/val/test splits, stratified by class presence.

Iterative stratification (Sechidis et al., 2011) for images that each hold a set of classes:
classes are handled rarest first; each image of the class goes to a split that does not have
that class yet (so a class on 3 images with ratios 0.8/0.1/0.1 lands in all three splits), then
to the split that wants most of that class. Split sizes follow the ratios exactly (largest
remainder rounding); a seeded shuffle breaks ties, so the same seed gives the same splits.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence

from segstudio.core.errors import FormatError

SPLIT_NAMES = ("train", "val", "test")


def parse_ratios(text: str | Sequence[float]) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' (or a sequence; two values mean no test split) -> normalised ratios."""
    try:
        values = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError as exc:
        raise FormatError(f"split ratios must be numbers like 0.8,0.1,0.1, got {text!r}") from exc
    if len(values) == 2:
        values.append(0.0)
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0:
        raise FormatError(f"split ratios are three non-negative numbers (train,val,test), got {text!r}")
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


def split_sizes(count: int, ratios: Sequence[float]) -> list[int]:
    """Sizes that sum to `count`, as close to the ratios as whole images allow."""
    exact = [count * r for r in ratios]
    sizes = [int(e) for e in exact]
    by_remainder = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - sizes[i]), -ratios[i]))
    for i in by_remainder[: count - sum(sizes)]:
        sizes[i] += 1
    return sizes


def stratified_split(presence: Mapping[Hashable, frozenset[int] | set[int]],
                     ratios: Sequence[float], seed: int = 0) -> dict[Hashable, str]:
    """Assign each key ('image') to 'train', 'val' or 'test' according to the classes it holds."""
    rng = random.Random(seed)
    keys = list(presence)
    rng.shuffle(keys)
    capacity = split_sizes(len(keys), ratios)
    splits = [i for i, r in enumerate(ratios) if r > 0]
    class_counts: dict[int, int] = {}
    for key in keys:
        for cls in presence[key]:
            class_counts[cls] = class_counts.get(cls, 0) + 1
    wanted = {cls: [n * r for r in ratios] for cls, n in class_counts.items()}
    holds = {cls: [0] * len(ratios) for cls in class_counts}
    assignment: dict[Hashable, str] = {}

    def assign(key: Hashable, index: int) -> None:
        assignment[key] = SPLIT_NAMES[index]
        capacity[index] -= 1
        for cls in presence[key]:
            wanted[cls][index] -= 1
            holds[cls][index] += 1

    for cls in sorted(class_counts, key=lambda c: (class_counts[c], c)):
        for key in keys:
            if key in assignment or cls not in presence[key]:
                continue
            open_splits = [i for i in splits if capacity[i] > 0] or splits
            missing = [i for i in open_splits if holds[cls][i] == 0]
            candidates = missing or open_splits
            assign(key, max(candidates, key=lambda i: (wanted[cls][i], capacity[i], -i)))
    for key in keys:
        if key not in assignment:
            open_splits = [i for i in splits if capacity[i] > 0] or splits
            assign(key, max(open_splits, key=lambda i: (capacity[i], -i)))
    return assignment
