"""The forward pass in ONNX Runtime on a CPU, where it measures faster than torch.

ONNX Runtime is the runtime a person would pick instead of the app to run our exported model,
and on many CPUs it is faster than torch for some architectures (LR-ASPP MobileNetV3's forward
pass at 1024 x 1024 in float32 on a 2-core Xeon: about 105 ms against torch's 125-175 ms;
issue 15). So on a CPU the app races the two per model version and input shape, on the very
tiles it has to predict anyway, and keeps the faster:

- the first two passes of a shape run in torch (timed);
- when the shape comes a third time the model is exported at exactly that shape with torch's
  TorchScript-based exporter (0.2-0.9 s; the dynamo exporter of core/model_export.py takes 5-16 s,
  too slow for every kept version). A static shape is what makes that exporter correct: it bakes
  the sizes it traced, so a graph exported at one size gives wrong results at another;
- that pass runs both runtimes, in float32, on the same batch: ONNX Runtime must agree with torch
  (the same class at 99.9 % of pixels, logits within a small tolerance) or the shape stays on
  torch for good. A faulty export can cost time, never a wrong proposal;
- the fourth pass times ONNX Runtime again; ONNX Runtime serves every later pass of that shape
  when its best time is at least 5 % under torch's (its session keeps an arena of the activations,
  0.78 GB for a U-Net at 1024 x 1024, so a tie goes to torch), else torch does;
- later versions of the same kind of model (a new version after each training round) do not race
  again: they run torch, and where ONNX Runtime won they switch once the time torch lost adds up
  to what the switch cost the first time (ski rental), so a version that predicts a shape only a
  few times never pays an export for it.

Without onnxruntime installed, for TorchScript imports and when export fails, torch runs alone.
`torch_alone()` makes torch run alone too: the two runtimes' logits differ in the last digits and the
race decides by timing, so a benchmark that must repeat pixel for pixel pins one runtime.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

TORCH_PASSES = 2  # timed torch passes of a shape before ONNX Runtime is tried
ORT_PASSES = 2  # timed ONNX Runtime passes (the first also checks it against torch)
SHAPES_PER_MODEL = 2  # sessions kept per model version (least recently used goes): each keeps its arena
MIN_GAIN = 0.05  # ONNX Runtime must save this share of torch's time: its session holds memory (an arena)
MIN_AGREEMENT = 0.999  # share of pixels whose class must match torch's
LOGIT_TOLERANCE = 1e-3  # relative to the largest logit


@dataclass
class _ShapeRace:
    torch_s: list[float] = field(default_factory=list)
    ort_s: list[float] = field(default_factory=list)
    switch_s: float = 0.0  # export, session and the checked pass, less ONNX Runtime's own time
    session: object | None = None
    winner: str | None = None  # "torch" or "onnxruntime" once decided


@dataclass(frozen=True)
class _Outcome:
    """How a race of one kind of model at one shape ended, for the later versions."""

    winner: str
    gain_s: float = 0.0  # torch's time less ONNX Runtime's, per pass
    switch_s: float = 0.0  # what switching to ONNX Runtime cost


class RuntimeRace:
    """One model version's race between torch and ONNX Runtime, per input shape."""

    def __init__(self, model: nn.Module, kind: Hashable):
        self._model = weakref.ref(model)  # the race lives as long as the model, not the other way round
        self.kind = kind
        self._shapes: OrderedDict[tuple[int, ...], _ShapeRace] = OrderedDict()
        self._lock = threading.Lock()

    def run(self, batch: torch.Tensor, torch_forward: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        """Float32 logits of `batch` (N x C x H x W, float32 on the CPU) from the runtime the race picks."""
        shape = tuple(batch.shape)
        race = self._race_of(shape)
        known = _OUTCOMES.get((self.kind, shape))  # how an earlier version's race at this shape ended
        if race.winner is None and known is not None and known.winner == "torch":
            race.winner = "torch"
        if race.winner == "onnxruntime":
            return _run_session(race.session, batch)
        if race.winner == "torch":
            return torch_forward(batch).float().numpy()
        if known is not None:
            # Ski rental: torch until the time it lost adds up to what switching costs, then switch
            # (never more than twice the best choice in hindsight, however many passes follow).
            if len(race.torch_s) * known.gain_s < known.switch_s:
                return _timed(race.torch_s, torch_forward, batch)
            return self._switch(race, batch, torch_forward, known_faster=True)
        if len(race.torch_s) < TORCH_PASSES:
            return _timed(race.torch_s, torch_forward, batch)
        if race.session is None:
            return self._switch(race, batch, torch_forward)
        logits = _timed(race.ort_s, lambda b: _run_session(race.session, b), batch)
        if len(race.ort_s) >= ORT_PASSES:
            gain = min(race.torch_s) - min(race.ort_s)
            faster = gain > MIN_GAIN * min(race.torch_s)
            self._decide(race, shape, _Outcome("onnxruntime" if faster else "torch", gain, race.switch_s))
            log.info("%s at %s: torch %.0f ms, ONNX Runtime %.0f ms, switch %.2f s", self.kind, shape,
                     min(race.torch_s) * 1000, min(race.ort_s) * 1000, race.switch_s)
        return logits

    def runtime(self, shape: tuple[int, ...]) -> str | None:
        """The runtime this model uses at `shape`, once decided."""
        race = self._shapes.get(tuple(shape))
        return None if race is None else race.winner

    def _race_of(self, shape: tuple[int, ...]) -> _ShapeRace:
        with self._lock:
            race = self._shapes.pop(shape, None) or _ShapeRace()
            self._shapes[shape] = race
            while len(self._shapes) > SHAPES_PER_MODEL:
                self._shapes.popitem(last=False)
            return race

    def _decide(self, race: _ShapeRace, shape: tuple[int, ...], outcome: _Outcome) -> None:
        race.winner = outcome.winner
        _OUTCOMES[(self.kind, shape)] = outcome
        if outcome.winner == "torch":
            race.session = None

    def _switch(self, race: _ShapeRace, batch: torch.Tensor, torch_forward, *,
                known_faster: bool = False) -> np.ndarray:
        """Export at this shape and run ONNX Runtime once, checked against torch on the same batch."""
        shape = tuple(batch.shape)
        start = time.perf_counter()
        model = self._model()
        session = None if model is None else _static_session(model, shape)
        if session is None:
            self._decide(race, shape, _Outcome("torch"))
            return _timed(race.torch_s, torch_forward, batch)
        logits = _timed(race.ort_s, lambda b: _run_session(session, b), batch)
        with torch.inference_mode():
            reference = model(batch).float().numpy()
        race.switch_s = time.perf_counter() - start - race.ort_s[-1]
        if not agrees(logits, reference):
            log.warning("ONNX Runtime disagrees with torch on %s at %s: torch keeps it", self.kind, shape)
            self._decide(race, shape, _Outcome("torch"))
            return reference
        race.session = session
        if known_faster:
            race.winner = "onnxruntime"
        return logits


def agrees(logits: np.ndarray, reference: np.ndarray) -> bool:
    """Whether ONNX Runtime's logits may stand in for torch's (N x K x H x W each)."""
    if logits.shape != reference.shape or not np.isfinite(logits).all():
        return False
    scale = float(np.abs(reference).max()) or 1.0
    if float(np.abs(logits - reference).max()) > LOGIT_TOLERANCE * scale:
        return False
    return float((logits.argmax(axis=1) == reference.argmax(axis=1)).mean()) >= MIN_AGREEMENT


_PINNED_TO_TORCH = False


@contextmanager
def torch_alone(pinned: bool = True) -> Iterator[None]:
    """Within it, models loaded for inference run on torch alone (when `pinned`): repeatable figures."""
    global _PINNED_TO_TORCH
    before, _PINNED_TO_TORCH = _PINNED_TO_TORCH, pinned
    try:
        yield
    finally:
        _PINNED_TO_TORCH = before


_RACES: weakref.WeakKeyDictionary[nn.Module, RuntimeRace] = weakref.WeakKeyDictionary()
_RACES_LOCK = threading.Lock()
_EXPORT_LOCK = threading.Lock()  # torch's exporter keeps global state: a second export at once fails
# (kind, shape) -> how its first race ended: speed depends on the architecture, not on the weights,
# so later versions of the same kind of model skip the timing (and torch's winners the export).
_OUTCOMES: dict[tuple[Hashable, tuple[int, ...]], _Outcome] = {}


def race_for(model: nn.Module, kind: Hashable) -> RuntimeRace | None:
    """The race for `model`, an inference copy on the CPU (models/optimise.py: a new copy, so a new
    race, whenever the weights change); `kind` names what its speed depends on (architecture,
    channels, classes, precision). None when ONNX Runtime is not installed or the model cannot be
    exported (TorchScript imports)."""
    with _RACES_LOCK:
        race = _RACES.get(model)
        if race is None:
            if _PINNED_TO_TORCH or _has_script(model) or not onnxruntime_available():
                return None
            race = _RACES[model] = RuntimeRace(model, kind)
        return race


def chosen_runtime(kind: Hashable, shape: tuple[int, ...]) -> str | None:
    """"torch" or "onnxruntime" once a race of this kind and input shape has ended, else None."""
    outcome = _OUTCOMES.get((kind, tuple(shape)))
    return None if outcome is None else outcome.winner


def _has_script(model: nn.Module) -> bool:
    return any(isinstance(m, torch.jit.ScriptModule) for m in model.modules())


def onnxruntime_available() -> bool:
    try:
        import onnx  # noqa: F401 - torch's exporter writes through it
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _static_session(model: nn.Module, shape: tuple[int, ...]):
    """An ONNX Runtime session of `model` exported at exactly `shape`, or None when it fails."""
    import onnxruntime

    buffer = io.BytesIO()
    try:
        with _EXPORT_LOCK, warnings.catch_warnings(), torch.inference_mode(False):  # it prints nothing
            warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated upstream
            torch.onnx.export(model, (torch.zeros(shape),), buffer, input_names=["input"], output_names=["logits"],
                              opset_version=18, dynamo=False)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        # Idle threads sleep, as torch's do (OMP_WAIT_POLICY=PASSIVE): spinning ones would take the
        # cores from training and the window between passes (LR-ASPP 1024: 102 ms either way).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory pattern: with it the arena kept twice the activations (U-Net at 1024: 1.6 GB
        # against 0.78 GB without, as fast; LR-ASPP 115 against 122 ms and 145 MB less).
        options.enable_mem_pattern = False
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - many kinds; torch simply keeps the shape
        log.info("no ONNX Runtime for %s at %s: %s", type(model).__name__, shape, exc)
        return None


def _run_session(session, batch: torch.Tensor) -> np.ndarray:
    return session.run(None, {"input": np.ascontiguousarray(batch.numpy())})[0]


def _timed(times: list[float], forward: Callable[[torch.Tensor], object], batch: torch.Tensor) -> np.ndarray:
    start = time.perf_counter()
    out = forward(batch)
    logits = out if isinstance(out, np.ndarray) else out.float().numpy()
    times.append(time.perf_counter() - start)
    return logits
