"""`segstudio bench NAME [options]`: the benchmarks that measure the budgets of docs/architecture.md.

Each area registers its benchmark in `BENCHES`: a name and the module that implements it with
`add_arguments(parser)` and `run(args) -> int`. A bench module is imported only when it runs
(its options are parsed then), so `segstudio --help` never loads Qt or torch.
"""

from __future__ import annotations

import argparse
import importlib

from segstudio.core.errors import SegStudioError

BENCHES: dict[str, str] = {
    "ui": "segstudio.gui.bench_ui",
    "review": "segstudio.gui.bench_review",
    "heartbeat": "segstudio.gui.bench_heartbeat",
    "hitl": "segstudio.bench.hitl",
    "ceiling": "segstudio.bench.ceiling",
    "train": "segstudio.bench.train",
    "train-latency": "segstudio.bench.train_latency",
    "make-dataset": "segstudio.bench.shapes_dataset",
    "edits": "segstudio.bench.edits",
    "predict": "segstudio.bench.predict",
    "open": "segstudio.bench.open",
    "add": "segstudio.bench.add",
    "display": "segstudio.bench.display",
    "instant": "segstudio.bench.instant",
    "real-data": "segstudio.bench.real_data",
    "demo": "segstudio.bench.demo",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help=f"measure the performance budgets ({', '.join(BENCHES)})",
        description="Run one benchmark and print its figures (p50/p95); `segstudio bench NAME --help` "
        "lists its options, --json prints one JSON object.",
    )
    parser.add_argument("bench", choices=sorted(BENCHES), help="which benchmark")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that benchmark")
    parser.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    module_path = BENCHES[args.bench]
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise SegStudioError(f"the {args.bench} benchmark cannot run here: {exc}") from exc
    doc = (module.__doc__ or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=f"segstudio bench {args.bench}", description=doc[0] if doc else None)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.options)) or 0)
