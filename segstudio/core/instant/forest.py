"""The instant tier's forest: trained by scikit-learn, kept and reloaded as plain validated arrays.

scikit-learn grows the trees (a random forest like ilastik's, with fewer trees, by default;
extremely randomised trees can be chosen). A saved forest is six flat arrays (children, split feature, threshold,
missing-value direction, leaf class fractions, and where each tree starts), never a pickle.
Loading checks every index before use: children point forward inside their own tree (so every
path ends at a leaf), leaves have no children, split features exist, thresholds and fractions
are finite. Only then are scikit-learn's own `Tree` objects rebuilt from the arrays, so saved
and fresh forests predict through the same compiled code, to identical results.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from segstudio.core.errors import ModelError

KINDS = ("extra_trees", "random_forest")
MAX_TREES = 1000
MAX_NODES = 50_000_000
PREDICT_ROWS = 1 << 18  # rows per block: bounds the per-tree output buffers
_DELAYED_WARNING = r"`sklearn\.utils\.parallel\.delayed` should be used with"


@dataclass(frozen=True)
class ForestParams:
    """How the forest is grown. The default, 32 fully grown random-forest trees, is what
    `segstudio bench instant` and `bench hitl --forest` chose (docs/architecture.md, 4a): ilastik's
    own classifier with a third of its trees, as accurate on scribbles and within the live
    refresh's 2 s on 20,000 rows, where extra trees were 10x cheaper but far less accurate."""

    kind: str = "random_forest"
    trees: int = 32
    min_samples_leaf: int = 1

    @classmethod
    def from_json(cls, data) -> ForestParams:
        if not isinstance(data, dict) or set(data) != {"kind", "trees", "min_samples_leaf"}:
            raise ModelError("the instant model's forest parameters are not ours")
        params = cls(**data)
        if (params.kind not in KINDS or not _is_int(params.trees) or not 1 <= params.trees <= MAX_TREES
                or not _is_int(params.min_samples_leaf) or params.min_samples_leaf < 1):
            raise ModelError(f"the instant model's forest parameters are out of range: {data}")
        return params

    def to_json(self) -> dict:
        return asdict(self)


def grow_trees(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, params: ForestParams,
               seed: int, threads: int | None = None) -> list:
    """scikit-learn `Tree`s over the classes present in `labels` (sorted), one per estimator."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    make = ExtraTreesClassifier if params.kind == "extra_trees" else RandomForestClassifier
    forest = make(n_estimators=params.trees, min_samples_leaf=params.min_samples_leaf, max_features="sqrt",
                  n_jobs=threads or _threads(), random_state=seed)
    # scikit-learn's tree tasks sometimes lose the configuration it hands to joblib's threads and
    # then warn once per tree ("`sklearn.utils.parallel.delayed` should be used with ...",
    # scikit-learn issue 32631): thousands of lines on stderr in some `bench hitl` runs, about a
    # configuration this code never sets. The filter is global because the warning is raised in
    # joblib's worker threads.
    warnings.filterwarnings("ignore", message=_DELAYED_WARNING, category=UserWarning)
    forest.fit(features, labels, sample_weight=weights)
    return [estimator.tree_ for estimator in forest.estimators_]


def predict_fractions(trees: list, features: np.ndarray, threads: int | None = None) -> np.ndarray:
    """(N, K) float32 mean leaf class fractions over the trees, for (N, F) float32 rows."""
    rows = np.ascontiguousarray(features, dtype=np.float32)
    classes = int(trees[0].max_n_classes)
    out = np.empty((len(rows), classes), np.float32)
    groups = np.array_split(np.arange(len(trees)), min(len(trees), threads or _threads()))

    def partial_sum(block: np.ndarray, group: np.ndarray) -> np.ndarray:
        total = np.zeros((len(block), classes), np.float64)
        for index in group:
            total += trees[index].predict(block).reshape(len(block), classes)
        return total

    with ThreadPoolExecutor(len(groups)) as pool:  # scikit-learn's tree walk releases the GIL
        for start in range(0, len(rows), PREDICT_ROWS):
            block = rows[start:start + PREDICT_ROWS]
            sums = pool.map(partial_sum, [block] * len(groups), groups)
            out[start:start + len(block)] = sum(sums) / len(trees)
    return out


def trees_to_arrays(trees: list) -> dict[str, np.ndarray]:
    """Flat arrays of the whole forest, tree after tree (what `trees_from_arrays` reads back)."""
    states = [tree.__getstate__() for tree in trees]
    nodes = np.concatenate([state["nodes"] for state in states])
    counts = [state["node_count"] for state in states]
    return {
        "tree_starts": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "left_child": nodes["left_child"].astype(np.int32),
        "right_child": nodes["right_child"].astype(np.int32),
        "feature": nodes["feature"].astype(np.int32),
        "threshold": nodes["threshold"].astype(np.float64),
        "missing_go_to_left": nodes["missing_go_to_left"].astype(np.uint8),
        "value": np.concatenate([state["values"].reshape(state["node_count"], -1) for state in states]),
    }


ARRAY_DTYPES = {"tree_starts": np.int64, "left_child": np.int32, "right_child": np.int32, "feature": np.int32,
                "threshold": np.float64, "missing_go_to_left": np.uint8, "value": np.float64}


def trees_from_arrays(arrays: dict[str, np.ndarray], *, trees: int, features: int, classes: int) -> list:
    """Validated arrays back into scikit-learn `Tree`s; anything inconsistent raises ModelError."""
    from sklearn.tree._tree import NODE_DTYPE, Tree

    check_arrays(arrays, trees=trees, features=features, classes=classes)
    starts = arrays["tree_starts"]
    rebuilt = []
    for t in range(trees):
        begin, end = int(starts[t]), int(starts[t + 1])
        nodes = np.zeros(end - begin, dtype=NODE_DTYPE)
        for name in ("left_child", "right_child", "feature", "threshold", "missing_go_to_left"):
            nodes[name] = arrays[name][begin:end]
        nodes["n_node_samples"] = 1
        nodes["weighted_n_node_samples"] = 1.0
        tree = Tree(features, np.array([classes], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": _depth(nodes["left_child"], nodes["right_child"]), "node_count": end - begin,
                           "nodes": nodes, "values": np.ascontiguousarray(arrays["value"][begin:end].reshape(-1, 1, classes))})
        rebuilt.append(tree)
    return rebuilt


def check_arrays(arrays: dict[str, np.ndarray], *, trees: int, features: int, classes: int) -> None:
    """Every bound a tree walk relies on, checked on the arrays before anything uses them."""
    if set(arrays) != set(ARRAY_DTYPES):
        raise ModelError(f"the instant model's arrays are not ours: {sorted(arrays)}")
    for name, dtype in ARRAY_DTYPES.items():
        if arrays[name].dtype != dtype:
            raise ModelError(f"the instant model's array {name} has type {arrays[name].dtype}, expected {np.dtype(dtype)}")
    starts = arrays["tree_starts"]
    if starts.shape != (trees + 1,) or starts[0] != 0 or np.any(np.diff(starts) < 1) or starts[-1] > MAX_NODES:
        raise ModelError("the instant model's tree offsets are damaged")
    count = int(starts[-1])
    for name in ("left_child", "right_child", "feature", "threshold", "missing_go_to_left"):
        if arrays[name].shape != (count,):
            raise ModelError(f"the instant model's array {name} has shape {arrays[name].shape}, expected ({count},)")
    if arrays["value"].shape != (count, classes):
        raise ModelError(f"the instant model's leaf values have shape {arrays['value'].shape}, expected ({count}, {classes})")
    local = np.arange(count, dtype=np.int64) - np.repeat(starts[:-1], np.diff(starts))
    size = np.repeat(np.diff(starts), np.diff(starts))
    left, right = arrays["left_child"].astype(np.int64), arrays["right_child"].astype(np.int64)
    leaf = left == -1
    split = ~leaf
    if np.any(right[leaf] != -1):
        raise ModelError("the instant model has a leaf with a child")
    if np.any(left[split] <= local[split]) or np.any(right[split] <= local[split]) \
            or np.any(left[split] >= size[split]) or np.any(right[split] >= size[split]):
        raise ModelError("the instant model has a node index out of range")
    feature = arrays["feature"]
    if np.any(feature[split] < 0) or np.any(feature[split] >= features):
        raise ModelError(f"the instant model splits on a feature outside 0-{features - 1}")
    if not np.all(np.isfinite(arrays["threshold"][split])) or not np.all(np.isfinite(arrays["value"])) \
            or np.any(arrays["value"] < 0) or np.any(arrays["missing_go_to_left"] > 1):
        raise ModelError("the instant model holds values out of range")


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Longest root-to-leaf path, walked level by level (children come after parents: checked)."""
    frontier, depth = np.zeros(1, np.int64), 0
    while True:
        children = np.concatenate([left[frontier], right[frontier]])
        frontier = np.unique(children[children != -1])
        if not len(frontier):
            return depth
        depth += 1


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
