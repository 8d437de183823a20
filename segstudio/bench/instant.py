"""`segstudio bench instant`: which per-pixel classifier the instant tier should use, by measurement.

For each data set (DIR with images/, masks/, classes.txt; default: the bundled demo nuclei and
generated shapes) and each classifier, as the median of --runs runs (run r scribbles with seed r):
- held-out mIoU: trained on brush dabs (--dabs per class, radius --radius, inside each class) on
  the first --train images, scored against the full masks of the other images;
- fit seconds on --fit-pixels balanced pixels of the training images' full masks;
- predict seconds for a --side (1024) square image from its cached features;
plus the filter-bank seconds for that image. Ratios are against ilastik's choice, a
random forest of 100 fully grown trees, run in the same process on the same rows. The live
refresh budget (2 s on 2 cores) is fit + predict with the image's features cached.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.instant.features import FEATURE_SIGMAS, ImageFeatures, feature_stack, image_features
from segstudio.core.instant.forest import ForestParams, grow_trees, predict_fractions
from segstudio.core.instant.sampling import BalancedSampler
from segstudio.core.metrics import confusion_matrix, scores_from_confusion

ANCHOR = "rf100"
IGNORE = 255


@dataclass(frozen=True)
class Candidate:
    name: str
    describe: str

    def fit(self, rows, threads: int):
        """A predictor (N, F) -> (N, present classes) probabilities, and the present class ids."""
        present = np.unique(rows.labels)
        if self.name in FORESTS:
            trees = grow_trees(rows.features, rows.labels, rows.weights, FORESTS[self.name], 0, threads)
            return (lambda x: predict_fractions(trees, x, threads)), present
        if self.name == "hgb":
            from sklearn.ensemble import HistGradientBoostingClassifier

            model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)
        else:
            import lightgbm

            model = lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, n_jobs=threads, verbose=-1, random_state=0)
        model.fit(rows.features, rows.labels, sample_weight=rows.weights)
        return (lambda x: model.predict_proba(x)), present


FORESTS = {
    "rf100": ForestParams("random_forest", 100, 1),  # ilastik's classifier: the anchor
    "extra32": ForestParams("extra_trees", 32, 2),
    "extra64": ForestParams("extra_trees", 64, 2),
    "rf32": ForestParams("random_forest", 32, 2),
    "rf32full": ForestParams(),  # the instant tier's default
    "extra32full": ForestParams("extra_trees", 32, 1),
    "rf16full": ForestParams("random_forest", 16, 1),
}
CANDIDATES = {
    "rf100": Candidate("rf100", "random forest, 100 fully grown trees (ilastik)"),
    "extra32": Candidate("extra32", "extra trees, 32, min leaf 2 (instant tier default until 2026-12)"),
    "extra64": Candidate("extra64", "extra trees, 64, min leaf 2"),
    "rf32": Candidate("rf32", "random forest, 32 trees, min leaf 2"),
    "rf32full": Candidate("rf32full", "random forest, 32 fully grown trees (instant tier default)"),
    "extra32full": Candidate("extra32full", "extra trees, 32, fully grown"),
    "rf16full": Candidate("rf16full", "random forest, 16 fully grown trees"),
    "hgb": Candidate("hgb", "histogram gradient boosting, 100 iterations"),
    "lightgbm": Candidate("lightgbm", "LightGBM, 100 rounds, 31 leaves"),
}


def scribble_target(truth: np.ndarray, rng: np.random.Generator, dabs: int, radius: int) -> np.ndarray:
    """Brush dabs of the true class at random points well inside each class; IGNORE elsewhere."""
    target = np.full(truth.shape, IGNORE, np.uint8)
    for class_id in np.unique(truth[truth != IGNORE]):
        region = (truth == class_id).astype(np.uint8)
        inside = cv2.distanceTransform(np.pad(region, 1), cv2.DIST_L2, 3)[1:-1, 1:-1] >= radius
        ys, xs = np.nonzero(inside if inside.any() else region)
        for pick in rng.choice(len(ys), min(dabs, len(ys)), replace=False):
            dab = np.zeros_like(region)
            cv2.circle(dab, (int(xs[pick]), int(ys[pick])), radius, 1, -1)
            target[(dab == 1) & (region == 1)] = class_id
    return target


def balanced_rows(pairs, num_classes: int, max_pixels: int, seed: int):
    sampler = BalancedSampler(num_classes, max_pixels, seed)
    for features, target in pairs:
        values = features.values
        sampler.add(target, IGNORE, lambda idx, v=values: v.reshape(-1, v.shape[-1])[idx])
    return sampler.rows_for_training()


def heldout_miou(predict, present, tests, num_classes: int) -> float:
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for features, truth in tests:
        proba = predict(features.values.reshape(-1, features.values.shape[-1]))
        pred = present[np.argmax(proba, axis=1)].reshape(truth.shape)
        matrix += confusion_matrix(truth, pred, num_classes)
    return scores_from_confusion(matrix).miou


def live_refresh(pairs, classes: list[str], big_features: ImageFeatures, big_strokes: np.ndarray, runs: int,
                 threads: int) -> dict:
    """What the app's live refresh costs: the instant tier, its training images' samples cached
    (with their auto-context features), retrains on them plus the strokes on the timed image and
    re-proposes that image from its cached features, as core/live.py does."""
    from segstudio.core.instant_tier import InstantTier, sample_features

    fits, predicts, cpus = [], [], []
    for run in range(runs):
        tier = InstantTier(classes, seed=run, channels=big_features.channels)
        for image_id, (features, truth) in enumerate(pairs):
            tier.cache_image(image_id, features, truth)
        tier.settle_context(list(tier.cache))
        strokes = sample_features(big_features, big_strokes, IGNORE, tier.samples_per_image, run)
        start, cpu = time.perf_counter(), time.process_time()
        model = tier.fit(list(tier.cache), [strokes])
        fits.append(time.perf_counter() - start)
        predicts.append(_seconds(lambda m=model: m.predict_proba(big_features, threads=threads,
                                                                first_stage=strokes.first_stage).argmax(axis=0)))
        cpus.append(time.process_time() - cpu)
    return {"max_pixels": tier.max_samples, "rows": int(sum(model.sampled)), "stages": 1 + (model.context_trees is not None),
            "trees": model.params.trees, "fit_s": _median(fits), "predict_s": _median(predicts),
            "total_s": _median(np.add(fits, predicts)), "total_cpu_s": _median(cpus)}


def measure(name: str, folder: Path, args: argparse.Namespace) -> dict:
    from segstudio.bench.hitl import read_dataset, read_truth
    from segstudio.core.imageio import read_image

    classes, pairs = read_dataset(folder)
    if len(pairs) < args.train + 1:
        raise SystemExit(f"{folder} needs at least {args.train + 1} images (--train {args.train} plus held-out)")
    pairs = pairs[:args.train] + pairs[args.train:][-args.heldout:]  # scribbled first, scored on the last
    images = [read_image(image).raw for image, _ in pairs]
    channels = images[0].shape[2]
    features = [image_features(image, channels=channels) for image in images]
    truths = [read_truth(mask, len(classes)) for _, mask in pairs]
    big = _tile_to(images[0], args.side)
    big_features = ImageFeatures(feature_stack(big), channels, tuple(FEATURE_SIGMAS))
    tests = list(zip(features[args.train:], truths[args.train:]))
    rows_full = balanced_rows(zip(features[:args.train], truths[:args.train]), len(classes), args.fit_pixels, 0)
    result = {"dataset": name, "images": len(pairs), "channels": channels, "classes": len(classes),
              "train_images": args.train, "heldout_images": len(tests), "fit_pixels": int(len(rows_full.labels)), "classifiers": {}}
    result["feature_s"] = _median([_seconds(lambda: feature_stack(big)) for _ in range(args.runs)])
    for candidate in args.classifiers:
        print(f"{name}: {candidate} ...", file=sys.stderr, flush=True)
        runs = []
        for run in range(args.runs):
            rng = np.random.default_rng(run)
            scribbles = [scribble_target(t, rng, args.dabs, args.radius) for t in truths[:args.train]]
            rows = balanced_rows(zip(features[:args.train], scribbles), len(classes), args.fit_pixels, run)
            predict, present = CANDIDATES[candidate].fit(rows, args.threads)
            miou = heldout_miou(predict, present, tests, len(classes))
            start, cpu = time.perf_counter(), time.process_time()
            predict_full, _ = CANDIDATES[candidate].fit(rows_full, args.threads)
            fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            start, cpu = time.perf_counter(), time.process_time()
            predict_full(big_features.values.reshape(-1, big_features.values.shape[-1]))
            predict_s, predict_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            runs.append({"miou": miou, "fit_s": fit_s, "predict_s": predict_s, "fit_cpu_s": fit_cpu_s,
                         "predict_cpu_s": predict_cpu_s, "scribbled_pixels": int(len(rows.labels))})
        result["classifiers"][candidate] = {key: _median([r[key] for r in runs]) for key in runs[0]}
    big_strokes = scribble_target(_tile_to(truths[0][:, :, None], args.side)[:, :, 0], np.random.default_rng(0), args.dabs, args.radius)
    result["live_refresh"] = live_refresh(list(zip(features[:args.train], truths[:args.train])), classes, big_features,
                                          big_strokes, args.runs, args.threads)
    anchor = result["classifiers"].get(ANCHOR)
    for figures in result["classifiers"].values():
        figures["refresh_s"] = figures["fit_s"] + figures["predict_s"]
    for figures in result["classifiers"].values():  # the anchor may come in any place of --classifiers
        if anchor:
            figures["refresh_ratio_vs_rf100"] = figures["refresh_s"] / anchor["refresh_s"]
            figures["miou_minus_rf100"] = figures["miou"] - anchor["miou"]
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", action="append", type=Path, default=None,
                        help="folder with images/, masks/, classes.txt, or 'demo' (the bundled nuclei) or 'shapes' "
                             "(generated); repeatable; default: demo and shapes")
    parser.add_argument("--classifiers", nargs="+", default=["rf100", "extra32", "hgb", "lightgbm"],
                        choices=sorted(CANDIDATES))
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; medians are reported (default 3)")
    parser.add_argument("--train", type=int, default=2, help="scribbled training images (default 2)")
    parser.add_argument("--heldout", type=int, default=10, help="score on at most the last N other images (default 10)")
    parser.add_argument("--dabs", type=int, default=10, help="brush dabs per class per training image (default 10)")
    parser.add_argument("--radius", type=int, default=2, help="dab radius in pixels (default 2)")
    parser.add_argument("--fit-pixels", type=int, default=50_000, help="rows for the timed fit (default 50000)")
    parser.add_argument("--threads", type=int, default=2, help="classifier threads (default 2)")
    parser.add_argument("--side", type=int, default=1024, help="side of the timed prediction image (default 1024)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if "lightgbm" in args.classifiers and importlib.util.find_spec("lightgbm") is None:
        print("lightgbm is not installed: left out")
        args.classifiers = [c for c in args.classifiers if c != "lightgbm"]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for folder in args.dataset or [Path("demo"), Path("shapes")]:
            name, folder = _resolve(folder, Path(scratch))
            results.append(measure(name, folder, args))
            if not args.json:
                _print(results[-1], args)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _resolve(folder: Path, scratch: Path) -> tuple[str, Path]:
    """(name, folder): 'demo' and 'shapes' are made in scratch unless a folder of that name exists."""
    import shutil

    from segstudio.bench.shapes_dataset import write_dataset
    from segstudio.resources_path import resource_path

    if folder.exists() or str(folder) not in ("demo", "shapes"):
        return folder.name, folder
    if str(folder) == "shapes":
        return "shapes", write_dataset(scratch / "shapes", count=12, size=256)
    demo, nuclei = resource_path("demo"), scratch / "demo-nuclei"
    (nuclei / "images").mkdir(parents=True)
    shutil.copytree(demo / "masks", nuclei / "masks")
    for mask in sorted((demo / "masks").iterdir()):
        shutil.copy(demo / "images" / mask.name, nuclei / "images" / mask.name)
    manifest = json.loads((demo / "demo.json").read_text(encoding="utf-8"))
    (nuclei / "classes.txt").write_text("\n".join(c["name"] for c in manifest["classes"]) + "\n", encoding="utf-8")
    return "demo-nuclei", nuclei


def _tile_to(image: np.ndarray, side: int) -> np.ndarray:
    reps = (-(-side // image.shape[0]), -(-side // image.shape[1]), 1)
    return np.ascontiguousarray(np.tile(image, reps)[:side, :side])


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median(values) -> float:
    return float(np.median(values))


def _print(result: dict, args: argparse.Namespace) -> None:
    print(f"\n{result['dataset']}: {result['images']} images, {result['channels']} channel(s), {result['classes']} classes; "
          f"scribbles ({args.dabs} dabs r={args.radius} per class) on {result['train_images']} images, held-out "
          f"mIoU on {result['heldout_images']} others; fit on {result['fit_pixels']} px; predict {args.side}x{args.side}; medians of {args.runs} runs, "
          f"{args.threads} threads")
    print(f"filter bank {args.side}x{args.side}: {result['feature_s']:.2f} s")
    live = result["live_refresh"]
    print(f"live refresh of the instant tier ({live['stages']} stages of {live['trees']} trees, {live['rows']} rows of "
          f"at most {live['max_pixels']}, strokes on the timed image): fit "
          f"{live['fit_s']:.2f} s + predict {args.side}x{args.side} {live['predict_s']:.2f} s = {live['total_s']:.2f} s, {live['total_cpu_s']:.2f} "
          f"CPU-s (features cached)")
    print(f"{'classifier':<10} {'mIoU':>6} {'fit s':>7} {'pred s':>7} {'fit+pred':>8} {'x rf100':>8} {'cpu fit':>8} "
          f"{'cpu pred':>8}  what")
    for name, f in result["classifiers"].items():
        ratio = f"{f['refresh_ratio_vs_rf100']:.2f}" if "refresh_ratio_vs_rf100" in f else "-"
        print(f"{name:<10} {f['miou']:>6.3f} {f['fit_s']:>7.2f} {f['predict_s']:>7.2f} {f['refresh_s']:>8.2f} {ratio:>8} "
              f"{f['fit_cpu_s']:>8.2f} {f['predict_cpu_s']:>8.2f}  {CANDIDATES[name].describe}")
