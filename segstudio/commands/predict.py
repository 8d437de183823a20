"""`segstudio predict` (batch proposals to PNG files) and `segstudio model` (export, import, info).

    segstudio predict PROJECT|IMAGE_DIR --out DIR [--model BUNDLE] [--device cuda] [--tile 1024] [--color]
    segstudio model export BUNDLE --format onnx,torchscript --out DIR
    segstudio model import FILE --arch lraspp_mobilenet_v3_large --classes a,b,c --out BUNDLE
    segstudio model info BUNDLE
    segstudio model archs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from segstudio.commands.arguments import non_negative_int, positive_int, tile_size
from segstudio.core.errors import SegStudioError

if TYPE_CHECKING:
    from segstudio.core.project import Project


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict class-index PNGs for a project or a folder of images",
        description="Run a model over every image of a project (or a folder of images) and write one "
        "class-index PNG per image (pixel value = class id, 255 = a model class the project lacks).")
    parser.add_argument("source", help="project folder or folder of images (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for the PNGs (the images' relative paths are kept)")
    parser.add_argument("--model", help="model bundle folder (default: the project's best model)")
    parser.add_argument("--device", help="auto (default), cuda, cuda:N, mps or cpu")
    parser.add_argument("--tile", type=tile_size, help="tile size in pixels (default: the whole image when it fits a memory budget, "
                        "else the biggest tile that does: core/inference.default_tiling)")
    parser.add_argument("--overlap", type=non_negative_int, help="tile overlap in pixels (default: none for one tile, else an eighth of the tile)")
    parser.add_argument("--color", action="store_true", help="also write NAME_color.png previews in class colours")
    parser.add_argument("--crf", action="store_true", help="refine boundaries with the CRF-style filter (slower)")
    parser.add_argument("--map-classes", action="store_true",
                        help="use a model whose classes differ from the project's, matching classes by name")
    parser.add_argument("--apply", action="store_true",
                        help="also store the proposals in the project (only pixels nobody reviewed change)")
    parser.set_defaults(func=run_predict)

    model = subparsers.add_parser("model", help="export, import or describe a model bundle")
    actions = model.add_subparsers(title="actions", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="export a bundle to ONNX and/or TorchScript")
    export.add_argument("bundle", help="model bundle folder (model.json + weights.safetensors)")
    export.add_argument("--format", default="onnx,torchscript", help="comma-separated: onnx, torchscript")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--check", action="store_true", help="run the ONNX file in onnxruntime and compare with torch")
    export.set_defaults(func=run_export)
    imp = actions.add_parser("import", help="make a bundle from a TorchScript file or a state dict")
    imp.add_argument("file", help=".pt/.pth (TorchScript or state dict) or .safetensors")
    imp.add_argument("--classes", required=True, help="comma-separated class names, in output-channel order")
    imp.add_argument("--arch", help="architecture the state dict fits (not needed for TorchScript)")
    imp.add_argument("--in-channels", type=positive_int, default=3, help="input channels (default 3)")
    imp.add_argument("--out", required=True, help="bundle folder to write")
    imp.set_defaults(func=run_import)
    info = actions.add_parser("info", help="print a bundle's model.json summary")
    info.add_argument("bundle")
    info.set_defaults(func=run_info)
    archs = actions.add_parser("archs", help="list the architectures")
    archs.set_defaults(func=run_archs)


def run_predict(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads sleep: see bench/predict.py
    from segstudio.core.progress import drive_with_tqdm
    from segstudio.core.project import Project

    source, out = Path(args.source), Path(args.out)
    _refuse_overlapping_out(out, [])  # a project as --out: before the project is even opened
    project = Project.open(source, readonly=not args.apply) if Project.is_project(source) else None
    try:
        if args.apply and project is None:
            raise SegStudioError(f"--apply needs a project; {source} is a folder of images")
        items = _project_items(project) if project else _folder_items(source)
        if not items:
            raise SegStudioError(f"no images found in {source}")
        _refuse_overlapping_out(out, [path for _, path, _ in items])
        from segstudio.core.device import pick_device
        from segstudio.core.models import ModelBundle

        bundle = ModelBundle.load(args.model or _best_model_path(project, source))
        mapping = bundle.mapping_to(project.class_names(), allow_mapping=args.map_classes) if project else None
        device = pick_device(args.device)
        colours = _palette([c.color for c in project.classes()] if project else [c.color for c in bundle.classes])
        work = _predict_items(bundle, items, out, project=project if args.apply else None,
                              device=device, tile=args.tile, overlap=args.overlap, crf=args.crf, mapping=mapping,
                              colours=colours if args.color else None)
        written, failed = drive_with_tqdm(work, desc=f"predict ({device})")
    finally:
        if project is not None:
            project.close()
    print(f"{written} class maps written to {args.out}" + (f"; {len(failed)} images failed" if failed else ""))
    for name, reason in failed:
        print(f"  {name}: {reason}", file=sys.stderr)
    return 1 if failed and not written else 0


def _predict_items(bundle, items, out: Path, *, project: Project, device, tile, overlap, crf, mapping, colours):
    """Generator: predicts and writes each (relative name, path, image id); returns (written, failed)."""
    from segstudio.core.atomic import atomic_write_png
    from segstudio.core.errors import ImageReadError
    from segstudio.core.imageio import read_image
    from segstudio.core.inference import predict
    from segstudio.core.prediction import apply_prediction
    from segstudio.core.progress import Progress, drive

    written, failed = 0, []
    for done, (name, path, image_id) in enumerate(items):
        yield Progress(done, len(items), name)
        try:
            raw = read_image(path).raw
        except ImageReadError as exc:
            failed.append((name, exc.reason))
            continue
        prediction = drive(predict(bundle, raw, device=device, tile=tile, overlap=overlap, crf=crf, mapping=mapping))
        target = out / Path(name).with_suffix(".png")
        atomic_write_png(target, prediction.class_map)
        if colours is not None:
            atomic_write_png(target.with_name(target.stem + "_color.png"), colours[prediction.class_map])
        if project is not None and image_id is not None:
            apply_prediction(project, None, image_id, prediction, version=bundle.version or None)
        written += 1
    yield Progress(len(items), len(items), "done")
    return written, failed


def _refuse_overlapping_out(out: Path, sources: list[Path]) -> None:
    """--out must be a folder of its own: not a project, not inside one, and not a folder that
    holds any of the images (its class maps would replace them). Checked before any writing."""
    from segstudio.core.project import Project

    resolved = out.expanduser().resolve()
    for folder in (resolved, *resolved.parents):
        if Project.is_project(folder):
            inside = "is" if folder == resolved else "is inside"
            raise SegStudioError(f"--out {out} {inside} the project {folder}: write the class maps to a folder "
                                 "of their own")
    for path in sources:
        if resolved in path.resolve().parents:
            raise SegStudioError(f"--out {out} holds the images being predicted ({path.name} ...): their class maps "
                                 "would replace them. Write to a folder of their own.")


def _best_model_path(project, source: Path) -> Path:
    best = project.proposing_model() if project is not None else None  # pinned, else the best
    if best is None:
        raise SegStudioError(f"give --model BUNDLE: {source} " + ("has no trained model yet" if project
                                                                   else "is not a project"))
    return best.path


def _project_items(project: Project) -> list[tuple[str, Path, int | None]]:
    """Output names: the path inside the project, or the file name for images kept elsewhere
    (made unique with the image id); never an absolute path that would point back at the image."""
    items, used = [], set()
    for record in project.images():
        name = Path(record.rel_path)
        if name.is_absolute() or ".." in name.parts:
            name = Path(record.name)
        if str(name.with_suffix("")) in used:
            name = name.with_name(f"{name.stem}_{record.id}{name.suffix}")
        used.add(str(name.with_suffix("")))
        items.append((str(name), record.path, record.id))
    return items


def _folder_items(folder: Path) -> list[tuple[str, Path, int | None]]:
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    if not folder.is_dir():
        raise SegStudioError(f"{folder} is neither a project nor a folder of images")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    return [(str(p.relative_to(folder)), p, None) for p in files]


def _palette(colours):
    import numpy as np

    palette = np.zeros((65536, 3), np.uint8)  # 255 / 65535 (unlabelled) stay black
    palette[:len(colours)] = np.asarray(colours, np.uint8).reshape(-1, 3)
    return palette


def run_export(args: argparse.Namespace) -> int:
    import numpy as np

    from segstudio.core.model_export import export_bundle, onnx_max_difference
    from segstudio.core.models import ModelBundle
    from segstudio.core.progress import drive_with_tqdm

    bundle = ModelBundle.load(args.bundle)
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    if "onnx" in formats:
        _require_onnx()
    paths = drive_with_tqdm(export_bundle(bundle, args.out, formats), desc="export")
    for path in paths:
        print(f"wrote {path} (+ {path.name}.json)")
        if args.check and path.suffix == ".onnx":
            sample = np.random.default_rng(0).standard_normal((1, bundle.in_channels, 97, 131)).astype(np.float32)
            print(f"  onnxruntime vs torch: max |difference| = {onnx_max_difference(path, bundle, sample):.2e}")
    return 0


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise SegStudioError(f"ONNX export needs the 'export' extra: pip install 'segstudio[export]' ({exc})") from exc


def run_import(args: argparse.Namespace) -> int:
    from segstudio.core.models import import_model

    classes = [name.strip() for name in args.classes.split(",") if name.strip()]
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise SegStudioError(f"--out {args.out} is a file; give a folder for the bundle")
    bundle = import_model(args.file, classes=classes, arch=args.arch, in_channels=args.in_channels)
    folder = bundle.save(args.out)
    print(f"imported {args.file} as {bundle.arch} with classes {', '.join(classes)} -> {folder}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from segstudio.core.models.bundle import read_model_json

    print(json.dumps(read_model_json(Path(args.bundle)), indent=2))
    return 0


def run_archs(args: argparse.Namespace) -> int:
    from segstudio.core.models import ARCHITECTURES

    for spec in ARCHITECTURES.values():
        pretrained = "pretrained weights available" if spec.supports_pretrained else "trains from scratch"
        print(f"{spec.name:30s} tile {spec.tile_size:5d}  {pretrained}\n    {spec.description}")
    return 0
