"""The toolchain's FINN build steps (`step_x(model, cfg) -> model`) and the rewrites they use.

A 1-D RadioML CNN exported by `export_onnx` differs from what FINN's standard steps expect in
three ways, each handled by one step placed in `build.yaml`:
- `step_integer_input` (first): the input quantizer becomes software. The accelerator takes the
  integer codes (INT8 for the default 8-bit [-2, 2] quantizer) and the graph keeps only their
  scale, which streamlining folds into the first thresholds.
- `step_channels_last_4d` (after tidy-up): [N, C, L] tensors become [N, C, L, 1] (FINN's
  convolution and pooling layers are 2-D), then the input is made channels-last, [N, L, 1, C]:
  the RadioML file's own frame layout, so the host sends a frame as stored.
- `step_insert_topk` (before streamlining): a TopK(k=1) at the output, into which streamlining
  folds the final scale, so the accelerator returns the class index (LabelSelect).
`step_specialize_by_structure` applies the build folder's per-board specialisation file by graph
structure (see `structure`); `step_fold_by_structure` folds every layer within the board's budget
(`autofold`), with the board's hand folding file over it where the file is written for this graph. Steps that need Vivado/Vitis are listed in
`XILINX_STEPS`: without the tools the build stops before the first of them.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from onnx import helper as oh
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.change_3d_tensors_to_4d import Change3DTo4DTensors
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.insert_topk import InsertTopK
from qonnx.transformation.make_input_chanlast import MakeInputChannelsLast

from ...errors import ConfigError, ToolchainError
from .build_config import BuildPlan
from .structure import ApplyStructuralConfig

Step = Callable[[ModelWrapper, object], ModelWrapper]

# From here on a build needs the Xilinx tools (HLS synthesis, Vivado simulation or synthesis,
# or outputs of those steps, like the driver for the synthesised design).
XILINX_STEPS = frozenset({
    "step_hw_ipgen", "step_set_fifo_depths", "step_generate_hardware", "step_create_stitched_ip",
    "step_measure_rtlsim_performance", "step_out_of_context_synthesis", "step_prepare_synthesis",
    "step_synthesize_bitfile", "step_make_driver", "step_deployment_package", "step_vivado_power_estimation",
    "step_prepare_nodecontainer",
})
# FINN's own steps that read the folding/specialisation files by node name.
NAME_KEYED = {"step_apply_folding_config": "step_fold_by_structure",
              "step_specialize_layers": "step_specialize_by_structure"}


# ------------------------------------------------------------------------------- rewrites
@dataclass(frozen=True)
class InputQuant:
    """The model's input quantizer: x_int = clip(round(x / scale)), as qonnx's Quant computes it."""

    scale: float
    bits: int
    signed: bool
    narrow: bool
    rounding_mode: str

    @property
    def datatype(self) -> str:
        return f"{'INT' if self.signed else 'UINT'}{self.bits}"

    def to_json(self) -> dict:
        return {"scale": self.scale, "bits": self.bits, "signed": self.signed, "narrow": self.narrow,
                "rounding_mode": self.rounding_mode, "datatype": self.datatype}


def input_quant(model: ModelWrapper) -> tuple[InputQuant, object]:
    """The Quant node reading the graph input, and its parameters; an error if FINN could not
    take its integer codes as the accelerator's input."""
    iname = model.graph.input[0].name
    consumers = model.find_consumers(iname)
    node = consumers[0] if len(consumers) == 1 else None
    if node is None or node.op_type != "Quant":
        raise ToolchainError("the model input is not quantized by a single Quant node: FINN needs integer inputs "
                             "(export a model whose first layer is an input quantizer, e.g. QuantHardTanh)")
    scale, zeropt, bits = (model.get_initializer(node.input[i]) for i in (1, 2, 3))
    if scale is None or zeropt is None or bits is None or np.size(scale) != 1 or np.size(zeropt) != 1:
        raise ToolchainError(f"input quantizer {node.name}: needs a constant per-tensor scale and zero point")
    if float(zeropt) != 0.0 or float(bits) != int(bits):
        raise ToolchainError(f"input quantizer {node.name}: needs zero point 0 and an integer bit width "
                             f"(got {float(zeropt)}, {float(bits)})")
    attrs = {a.name: oh.get_attribute_value(a) for a in node.attribute}
    mode = attrs.get("rounding_mode", b"ROUND")
    quant = InputQuant(scale=float(scale), bits=int(bits), signed=bool(attrs.get("signed", 1)),
                       narrow=bool(attrs.get("narrow", 0)),
                       rounding_mode=mode.decode() if isinstance(mode, bytes) else str(mode))
    return quant, node


class IntegerInput(Transformation):
    """Replace the input Quant by its scale: the graph input becomes the integer codes."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        quant, node = input_quant(model)
        iname = model.graph.input[0].name
        index = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        model.graph.node.insert(index, oh.make_node("Mul", [iname, node.input[1]], [node.output[0]],
                                                    name="InputScale"))
        model.set_tensor_datatype(iname, DataType[quant.datatype])
        model.set_metadata_prop("toolchain_input_quant", json.dumps(quant.to_json()))
        return model, False


class MaxPoolDilations4D(Transformation):
    """qonnx's Change3DTo4DTensors extends a MaxPool's kernel, pads and strides to 2-D but not
    its `dilations`; onnxruntime then refuses the node. Append the missing 1."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.get_nodes_by_op_type("MaxPool"):
            if len(model.get_tensor_shape(node.input[0])) != 4:
                continue
            for attr in node.attribute:
                if attr.name == "dilations" and len(attr.ints) == 1:
                    attr.ints.append(1)
        return model, False


# ------------------------------------------------------------------------------- steps
def step_integer_input(model: ModelWrapper, cfg) -> ModelWrapper:
    """The input quantizer moves to software; the accelerator takes its integer codes."""
    return model.transform(IntegerInput()).transform(InferShapes())


def step_channels_last_4d(model: ModelWrapper, cfg) -> ModelWrapper:
    """[N, C, L] -> [N, C, L, 1] tensors, then a channels-last input [N, L, 1, C]."""
    if len(model.get_tensor_shape(model.graph.input[0].name)) == 3:
        model = model.transform(Change3DTo4DTensors())
        if len(model.get_tensor_shape(model.graph.input[0].name)) != 4:
            ops = sorted({n.op_type for n in model.graph.node})
            raise ToolchainError("qonnx Change3DTo4DTensors could not make this 1-D graph 4-D (it supports only "
                                 f"some op types; the graph has: {', '.join(ops)})")
        model = model.transform(MaxPoolDilations4D())
    model = model.transform(MakeInputChannelsLast())
    return model.transform(InferShapes()).transform(InferDataTypes())


def step_insert_topk(model: ModelWrapper, cfg) -> ModelWrapper:
    """TopK(k=1) at the output: streamlining folds the final scale into it, and it becomes the
    LabelSelect that returns the class index."""
    from finn.transformation.streamline.absorb import AbsorbScalarMulAddIntoTopK

    model = model.transform(InsertTopK(k=1)).transform(InferShapes()).transform(InferDataTypes())
    model = model.transform(AbsorbScalarMulAddIntoTopK())
    return model.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())


def step_specialize_by_structure(model: ModelWrapper, cfg) -> ModelWrapper:
    """FINN's step_specialize_layers, with the preferred RTL/HLS styles set by graph structure
    from `cfg.specialize_layers_config_file` (the build folder's structural file)."""
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive

    model = model.transform(GiveUniqueNodeNamesRecursive())
    if cfg.specialize_layers_config_file is not None:
        model = _apply_file(model, Path(cfg.specialize_layers_config_file))
    model = model.transform(SpecializeLayers(cfg._resolve_fpga_part()))
    return model.transform(GiveUniqueNodeNamesRecursive()).transform(InferShapes()).transform(InferDataTypes())


@dataclass(frozen=True)
class FoldSettings:
    """What step_fold_by_structure needs of the build plan (bound by `resolve_steps`)."""

    part: str
    board: dict  # LUT, BRAM36, URAM, DSP totals
    board_name: str
    target_fps: object  # frames/s or "max"
    clock_ns: float
    budget: float
    file: Optional[Path]  # the board's hand folding file
    spec: Optional[dict]


def step_fold_by_structure(model: ModelWrapper, cfg, fold: Optional[FoldSettings] = None) -> ModelWrapper:
    """Fold every HW layer automatically within the board's budget (`autofold`), then apply the
    board's hand folding file over it if the file is written for this graph (its signature).
    What was chosen and why goes to report/folding.json and the model's metadata; the resolved
    node-name config to report/applied_folding_config.json, as FINN writes it."""
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from finn.util.config import extract_model_config_to_json

    from .autofold import auto_fold, current_folding
    from .structure import signature

    if fold is None:
        raise ToolchainError("step_fold_by_structure needs the build plan's folding settings (run it through "
                             "toolchain finn_build)")
    model = model.transform(GiveUniqueNodeNamesRecursive())
    sig = signature(model)
    info = auto_fold(model, fold.part, fold.board, fold.target_fps, fold.clock_ns, fold.budget)
    info.update(signature=sig, board=fold.board_name, hand_file=None)
    if fold.spec is not None:
        written_for = fold.spec["model"]
        applies = written_for["signature"] == sig
        info["hand_file"] = {"file": str(fold.file), "written_for": written_for, "applied": applies}
        if applies:
            model = model.transform(ApplyStructuralConfig(fold.spec, fold.file))
            info.update(current_folding(model, fold.part, fold.board, fold.clock_ns, fold.budget),
                        mode="hand folding file over the automatic one")
    if not info["fits"] and not (info["hand_file"] or {}).get("applied"):
        raise ToolchainError(no_fit_line(info, fold))
    from ..snn.event.event_graph import is_event_graph

    if is_event_graph(model):  # a conv's SP sets the next kernel's input word, hence its activity
        from ..snn.event.event_graph import restream
        from ..snn.steps import measure_activity

        restream(model)
        measure_activity(model, cfg.output_dir)
    attrs = ["PE", "SIMD", "sp", "parallel_window", "ram_style", "ram_style_thresholds", "resType", "mem_mode",
             "runtime_writeable_weights", "depth_trigger_uram", "depth_trigger_bram"]
    report = Path(cfg.output_dir) / "report"
    report.mkdir(parents=True, exist_ok=True)
    extract_model_config_to_json(model, report / "applied_folding_config.json", attrs)
    (report / "folding.json").write_text(json.dumps(info, indent=2))
    model.set_metadata_prop("toolchain_folding", json.dumps({k: v for k, v in info.items() if k != "layers"}))
    return model


def no_fit_line(info: dict, fold: FoldSettings) -> str:
    """One line: the board, each resource over budget and the smallest figure the search reached."""
    over = [r for r, b in info["budget"].items() if info["totals"][r] > b + 1e-9]
    figures = ", ".join(f"{r} {info['totals'][r]:,.0f} (budget {info['budget'][r]:,.0f})" for r in over)
    return (f"board {fold.board_name}: no folding fits {100 * fold.budget:g} % of the board; the least parallel "
            f"folding found still needs {figures} (DSP and BRAM counted from the RTL; nothing was kept)")


def _apply_file(model: ModelWrapper, path: Path) -> ModelWrapper:
    from .build_config import read_structural

    return model.transform(ApplyStructuralConfig(read_structural(path), path))


TOOLCHAIN_STEPS: dict[str, Step] = {f.__name__: f for f in (
    step_integer_input, step_channels_last_4d, step_insert_topk, step_specialize_by_structure,
    step_fold_by_structure)}


# ------------------------------------------------------------------------------- resolving
@dataclass
class ResolvedSteps:
    steps: list[tuple[str, Step]]  # every step of build.yaml, in order

    def split(self, tools_present: bool) -> tuple[list[tuple[str, Step]], list[str]]:
        """(steps to run, names skipped): without the tools, everything from the first step that
        needs them on is skipped, since later steps build on its results."""
        if tools_present:
            return self.steps, []
        first = next((i for i, (n, _) in enumerate(self.steps) if n in XILINX_STEPS), len(self.steps))
        return self.steps[:first], [n for n, _ in self.steps[first:]]


def resolve_steps(plan: BuildPlan) -> ResolvedSteps:
    """build.yaml's step names -> functions: toolchain steps, FINN's, then custom_steps.py's.
    Needs FINN importable (`prepare_finn` first)."""
    from finn.builder.build_dataflow_steps import build_dataflow_step_lookup

    from ..snn.steps import SNN_STEPS

    custom = _load_custom_steps(plan.custom_steps_file) if plan.custom_steps_file else {}
    out = []
    for name in plan.spec.steps:
        if name in NAME_KEYED:
            raise ConfigError(f"{plan.build_file}: steps: '{name}' reads FINN's node-name files; use "
                              f"'{NAME_KEYED[name]}' (this build folder's files are keyed by graph structure)")
        if name == "step_target_fps_parallelization":
            raise ConfigError(f"{plan.build_file}: steps: '{name}' is FINN's SetFolding, which ignores resources; "
                              "drop it (step_fold_by_structure folds to target_fps within the board's budget)")
        fn = TOOLCHAIN_STEPS.get(name) or SNN_STEPS.get(name) or build_dataflow_step_lookup.get(name) or custom.get(name)
        if fn is None:
            known = ", ".join([*TOOLCHAIN_STEPS, *SNN_STEPS, *sorted(custom)])
            raise ConfigError(f"{plan.build_file}: steps: unknown step '{name}' (not a FINN step; toolchain and "
                              f"custom steps: {known})")
        if fn is step_fold_by_structure:
            fn = functools.partial(step_fold_by_structure, fold=fold_settings(plan))
        elif name == "step_snn_event_driven" and fn is SNN_STEPS[name]:
            fn = functools.partial(fn, impl_style=plan.event_impl_style)
        out.append((name, fn))
    return ResolvedSteps(out)


def fold_settings(plan: BuildPlan) -> FoldSettings:
    return FoldSettings(part=plan.board.part, board=vars(plan.board.resources), board_name=plan.board.name,
                        target_fps=plan.target_fps, clock_ns=plan.clock_ns, budget=plan.budget,
                        file=plan.folding_file, spec=plan.folding)


def _load_custom_steps(path: Path) -> dict[str, Step]:
    """Functions named step_* in the build folder's custom_steps.py."""
    spec = importlib.util.spec_from_file_location(f"toolchain_custom_steps_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error means it cannot be used
        raise ConfigError(f"{path}: cannot be imported ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return {k: v for k, v in vars(module).items() if k.startswith("step_") and callable(v)}
