"""TorchScript is code: a stranger's archive runs only if every operation in it is on our list.

A scripted module can call `torch.from_file` (which maps any file writable), print, fork
threads or call custom operators, in `forward`, in any other method, in a submodule, in a
free function, in a hook, or in `__setstate__`, which torch.jit.load itself runs. So before
an archive's code runs at all:

1. the archive is read as a zip (no torch involved): one that defines `__setstate__`
   anywhere is refused, since loading would run it;
2. it is loaded (compiling its code, running nothing else), and every method and hook of
   every module is inlined (`prim::CallMethod` and `prim::CallFunction` targets pulled in)
   and walked block by block; each node must be one of ALLOWED_OPS: tensor arithmetic and
   the neural-network layers segmentation networks are made of, plus the control flow and
   container ops TorchScript itself emits. Nothing on the list reads or writes a file, the
   console, the network or another process, or creates a tensor from memory it does not own.

An op missing from the list refuses the model with the list of what it uses; widen the list
only with pure tensor operations.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from segstudio.core.errors import ModelError

# Pure tensor and layer operations (aten::), no I/O and no storage from outside.
_TENSOR_OPS = """
abs adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool2d add add_ addmm
argmax avg_pool1d avg_pool2d avg_pool3d baddbmm batch_norm bmm cat ceil chunk clamp clamp_ clamp_min
clone contiguous conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d cos detach
div div_ dropout dropout_ elu elu_ embedding eq erf exp expand expand_as feature_dropout flatten
floor floor_divide ge gelu glu group_norm gt hardsigmoid hardsigmoid_ hardswish hardswish_ hardtanh
hardtanh_ instance_norm interpolate layer_norm le leaky_relu leaky_relu_ linear log log_softmax
logsigmoid lt matmul max max_pool1d max_pool2d max_pool2d_with_indices max_pool3d max_unpool2d mean
min mish mm mul mul_ ne neg norm numel ones_like pad permute pixel_shuffle pixel_unshuffle pow prelu
reciprocal relu relu6 relu_ remainder repeat reshape rsqrt select selu sigmoid sigmoid_ silu silu_
sin size slice softmax softplus split sqrt square squeeze stack sub sub_ sum t tanh tanh_ transpose
type_as unbind unsqueeze upsample_bicubic2d upsample_bilinear2d upsample_linear1d upsample_nearest1d
upsample_nearest2d upsample_nearest3d upsample_trilinear3d _upsample_bicubic2d_aa
_upsample_bilinear2d_aa _upsample_lanczos2d_aa _upsample_nearest_exact1d _upsample_nearest_exact2d
_upsample_nearest_exact3d view view_as where zeros_like
"""
# Scalars, lists, dicts and strings as TorchScript lowers Python code (aten:: and prim::).
_LANGUAGE_OPS = """
aten::Bool aten::Float aten::Int aten::ScalarImplicit aten::__and__ aten::__contains__
aten::__getitem__ aten::__is__ aten::__isnot__ aten::__not__ aten::__or__ aten::_set_item
aten::append aten::dict aten::dim aten::extend aten::format aten::index aten::insert aten::items
aten::keys aten::len aten::list aten::values aten::item aten::to aten::floordiv
prim::Constant prim::GetAttr prim::If prim::Loop prim::ListConstruct prim::ListUnpack
prim::TupleConstruct prim::TupleUnpack prim::TupleIndex prim::DictConstruct prim::Uninitialized
prim::unchecked_cast prim::RaiseException prim::NumToTensor prim::dtype prim::device prim::shape
prim::max prim::min prim::isinstance prim::is_cuda prim::layout prim::requires_grad prim::data
prim::TupleSlice prim::ListIndex prim::Enter prim::Exit prim::AutogradAnyNonZero prim::AutogradZero
"""
ALLOWED_OPS: frozenset[str] = frozenset(
    {f"aten::{name}" for name in _TENSOR_OPS.split()} | set(_LANGUAGE_OPS.split()))

_LOAD_TIME_HOOK = re.compile(rb"def\s+__setstate__\b")
MAX_CODE_BYTES = 16 << 20


def check_archive(path: Path) -> None:
    """Refuse an archive that would run its own code while torch.jit.load reads it."""
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                if "/code/" not in f"/{entry.filename}" or not entry.filename.endswith(".py"):
                    continue
                if entry.file_size > MAX_CODE_BYTES:
                    raise ModelError(f"refused {path.name}: {entry.filename} holds {entry.file_size:,} bytes of code")
                if _LOAD_TIME_HOOK.search(archive.read(entry)):
                    raise ModelError(f"refused {path.name}: its code defines __setstate__ ({entry.filename}), "
                                     "which torch.jit.load would run; SegStudio does not run code from model files")
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - what zipfile cannot read is not loaded either
        raise ModelError(f"cannot read TorchScript model {path}: {exc}") from exc


def check_script(script, name: str) -> None:
    """Refuse a loaded ScriptModule any of whose methods uses an op outside ALLOWED_OPS."""
    import torch

    found: dict[str, set[str]] = {}
    for module_name, module in script.named_modules():
        graphs = [(m, module._c._get_method(m).graph) for m in module._c._method_names()]  # noqa: SLF001
        hooks = [*module._c._get_forward_pre_hooks(), *module._c._get_forward_hooks()]  # noqa: SLF001
        graphs += [(f"hook {hook.name}", hook.graph) for hook in hooks]
        for method, graph in graphs:
            graph = graph.copy()
            torch._C._jit_pass_inline(graph)  # noqa: SLF001 - pulls every called method and function in
            where = f"{module_name or 'model'}.{method}"
            for kind in _kinds(graph.block()) - ALLOWED_OPS:
                found.setdefault(kind, set()).add(where)
    if found:
        detail = "; ".join(f"{kind} in {', '.join(sorted(places)[:3])}" for kind, places in sorted(found.items()))
        raise ModelError(f"refused {name}: TorchScript is code, and this model uses operations outside "
                         f"SegStudio's list of pure tensor operations ({detail}). Nothing of it was run.")


def _kinds(block) -> set[str]:
    kinds: set[str] = set()
    for node in block.nodes():
        kinds.add(node.kind())
        for inner in node.blocks():
            kinds |= _kinds(inner)
    return kinds
