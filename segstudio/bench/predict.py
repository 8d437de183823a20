"""`segstudio bench predict`: proposal time per architecture, batch throughput, memory on huge images.

For each architecture (random weights: speed does not depend on them) it times a whole
proposal for one --size x --size RGB image at the default settings, exactly as `segstudio
predict` and the app run it (normalise, tiling chosen per architecture, network, softmax, class
map, confidence, entropy: `segstudio.core.inference.predict`), and in the same run ONNX
Runtime (CPU) on the same model exported by `segstudio model export` (ratio app / ONNX
Runtime per architecture), run in turns so that the machine's load falls on both alike;
medians of --runs runs after the app's warm-up (on a CPU its first passes race torch against
ONNX Runtime, core/models/onnx_runtime.py: the runtime it chose is reported); then the images
per second of one forward pass over a batch of --batch images. With --memory N it predicts an N x N image with a minimal U-Net and reports
the peak resident memory beyond the image itself: the tiled inference must stay far below
the K x N x N float logits a whole-image pass would hold.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archs", help="comma-separated architectures (default: all)")
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels (default 1024)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per architecture (default 5)")
    parser.add_argument("--batch", type=int, default=4, help="images in the throughput batch; 0 skips (default 4)")
    parser.add_argument("--device", help="auto (default), cuda, cuda:N, mps or cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch CPU threads (default: all cores)")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="also predict an N x N image and report the peak memory (e.g. 16384)")
    parser.add_argument("--fp32", action="store_true",
                        help="no mixed precision (default: float16 on CUDA, bfloat16 on CPUs with native support)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    # Waiting OpenMP threads sleep instead of spinning: on a shared or busy CPU spinning threads
    # steal the cores the work needs (LR-ASPP 1024 px on 2 busy cores: ~0.45 s passive vs 0.4-2.1 s).
    # Read when torch loads, so it only applies if nothing imported torch before.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from segstudio.core.device import pick_device
    from segstudio.core.errors import SegStudioError
    from segstudio.core.models import ARCHITECTURES

    torch.set_num_threads(max(1, args.threads))
    device = pick_device(args.device)
    archs = [a.strip() for a in args.archs.split(",")] if args.archs else list(ARCHITECTURES)
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown:
        raise SegStudioError(f"unknown architecture {', '.join(unknown)}; known: {', '.join(ARCHITECTURES)}")
    from segstudio.core.inference import mixed_precision_for

    mixed = mixed_precision_for(device, False if args.fp32 else None)
    precision = ("fp16" if device.type == "cuda" else "bf16") if mixed else "fp32"
    figures: dict[str, object] = {"device": str(device), "threads": torch.get_num_threads(), "size": args.size,
                                  "runs": args.runs, "precision": precision,
                                  "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    for arch in archs:
        figures.update(time_architecture(arch, args.size, args.runs, args.batch, device, not args.fp32))
        if not args.json:
            ort = figures.get(f"{arch}_{args.size}_onnxruntime_ms")
            print(f"{arch:30s} {figures[f'{arch}_{args.size}_ms']:9.1f} ms median (tile {figures[f'{arch}_tile']}, "
                  f"{figures[f'{arch}_runtime']})"
                  + (f", ONNX Runtime {ort:.1f} ms, ratio {figures[f'{arch}_{args.size}_vs_onnxruntime']:.2f}"
                     if ort is not None else "")
                  + (f"   {figures[f'{arch}_batch_images_per_s']:.2f} images/s (batch {args.batch})"
                     if args.batch else ""), flush=True)
    if args.memory:
        figures.update(measure_memory(args.memory, device))
        if not args.json:
            print(f"{args.memory} x {args.memory} image: peak memory beyond the image "
                  f"{figures['memory_peak_mib']:.0f} MiB (outputs {figures['memory_outputs_mib']:.0f} MiB, "
                  f"whole-image float logits would be {figures['memory_full_logits_mib']:.0f} MiB; "
                  f"process peak {figures['memory_peak_rss_total_mib']:.0f} MiB), "
                  f"{figures['memory_seconds']:.0f} s")
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"device {figures['device']} ({figures['precision']}), {figures['threads']} threads, "
              f"OMP_WAIT_POLICY={figures['omp_wait_policy']}")
    return 0


def time_architecture(arch: str, size: int, runs: int, batch: int, device, mixed: bool) -> dict[str, float]:
    """The app's proposal at its default settings (`predict(bundle, image, device=...)`, exactly the
    call of `segstudio predict` and the Model dock: tiling chosen by inference.default_tiling),
    and, in the same run, ONNX Runtime on the same model exported by core/model_export.py
    (normalise, run, argmax: the least a class map needs), medians of `runs`."""
    import numpy as np
    import torch

    from segstudio.core.inference import default_tiling, mixed_precision_for, predict, runtime_kind
    from segstudio.core.models import ModelBundle
    from segstudio.core.models.onnx_runtime import ORT_PASSES, TORCH_PASSES, chosen_runtime
    from segstudio.core.models.optimise import inference_copy
    from segstudio.core.progress import drive

    bundle = ModelBundle.create(arch, ["background", "foreground"])
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    mixed_precision = None if mixed else False
    tile, overlap = default_tiling(bundle, size, size)

    def app() -> None:
        drive(predict(bundle, image, device=device, mixed_precision=mixed_precision))

    for _ in range(TORCH_PASSES + ORT_PASSES if device.type == "cpu" else 0):
        app()  # the race of torch against ONNX Runtime ends before the timing starts
    tile_shape = (1, bundle.in_channels, min(tile, size), min(tile, size))
    used_mixed = mixed_precision_for(device, mixed_precision)
    runtime = chosen_runtime(runtime_kind(bundle, used_mixed), tile_shape) if device.type == "cpu" else None
    actions = {"app": app, "onnxruntime": _onnx_runtime(bundle, image) if device.type == "cpu" else None}
    if tile != bundle.tile_size:  # the default before issue 15: the bundle's tile, for the record
        actions["bundle_tile"] = lambda: drive(predict(bundle, image, device=device, tile=bundle.tile_size,
                                                       mixed_precision=mixed_precision))
    medians = _interleaved_medians_ms({k: v for k, v in actions.items() if v is not None}, runs, device)
    result = {f"{arch}_{size}_ms": medians["app"], f"{arch}_tile": tile, f"{arch}_overlap": overlap,
              f"{arch}_runtime": runtime or "torch"}
    if "bundle_tile" in medians:
        result[f"{arch}_{size}_bundle_tile_ms"] = medians["bundle_tile"]
    if "onnxruntime" in medians:
        result[f"{arch}_{size}_onnxruntime_ms"] = medians["onnxruntime"]
        result[f"{arch}_{size}_vs_onnxruntime"] = round(medians["app"] / medians["onnxruntime"], 2)
    if batch:
        model = inference_copy(bundle.model, device)
        inputs = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
        autocast = _autocast(device, mixed)
        with torch.inference_mode(), autocast:
            model(inputs[:1])
            _sync(device)
            start = time.perf_counter()
            model(inputs)
            _sync(device)
        result[f"{arch}_batch_images_per_s"] = round(batch / (time.perf_counter() - start), 2)
    return result


def _interleaved_medians_ms(actions: dict, runs: int, device) -> dict[str, float]:
    """Median ms of each action, run in turns (a, b, a, b, ...) after one warm-up each, so that
    a shared machine's load falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()
    for _ in range(max(1, runs)):
        for name, action in actions.items():
            _sync(device)
            start = time.perf_counter()
            action()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(values) * 1000, 1) for name, values in times.items()}


def _onnx_runtime(bundle, image):
    """ONNX Runtime on the bundle exported as the app exports it, as a function; None without it."""
    import tempfile
    from pathlib import Path

    import numpy as np

    try:
        import onnxruntime
    except ImportError:
        return None
    import torch

    from segstudio.core.model_export import INPUT_NAME, export_onnx

    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "model.onnx"
        export_onnx(bundle, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    norm = bundle.normalisation
    std = np.asarray(norm.std, np.float32).reshape(1, -1, 1, 1)
    factor, offset = np.float32(norm.scale) / std, np.asarray(norm.mean, np.float32).reshape(1, -1, 1, 1) / std

    def run() -> None:
        batch = image.transpose(2, 0, 1)[None].astype(np.float32) * factor - offset
        logits = session.run(None, {INPUT_NAME: batch})[0]
        logits[0].argmax(axis=0).astype(np.uint8)

    return run


def measure_memory(side: int, device) -> dict[str, float]:
    """Peak RSS growth while predicting a side x side image with a minimal U-Net (the network is
    not what is measured: the tiling, blending and outputs are)."""
    import numpy as np

    from segstudio.core.inference import predict
    from segstudio.core.models import ModelBundle
    from segstudio.core.progress import drive

    bundle = ModelBundle.create("unet", ["background", "foreground", "other"], depth=1, width=2)
    image = np.full((side, side, 3), 128, np.uint8)
    image[::7] = 30  # some structure, and every page touched so it is resident before the baseline
    drive(predict(bundle, image[:1024, :1024], device=device, tile=1024))  # libraries and kernels loaded
    baseline = _max_rss_mib()
    start = time.perf_counter()
    prediction = drive(predict(bundle, image, device=device, tile=1024, overlap=64))
    seconds = time.perf_counter() - start
    peak = _max_rss_mib() - baseline
    pixels = side * side
    return {"memory_side": side, "memory_peak_mib": round(peak, 1), "memory_outputs_mib": round(3 * pixels / 2**20, 1),
            "memory_full_logits_mib": round(bundle.num_classes * 4 * pixels / 2**20, 1),
            "memory_peak_rss_total_mib": round(_max_rss_mib(), 1), "memory_seconds": round(seconds, 1), "memory_classes_seen": int(prediction.class_map.max()) + 1}


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _autocast(device, mixed: bool):
    """The same precision choice as segstudio.core.inference for the throughput batch."""
    import torch

    from segstudio.core.device import cpu_has_native_bf16

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16, enabled=mixed)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed and cpu_has_native_bf16())


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
