"""Classify frames with a finished `finn_build` (its folder, `finn_output/`): the final HW model
run by FINN's Python execution, fed what the accelerator takes.

The folder's `finn_report.json` names the steps that ran (so the HW model is the one the build
verified, `BuildOutcome.hw_model`) and what the host does in front of the accelerator: for a
CNN the input quantizer (scale, bits) that turns float I/Q into its integer codes; for an SNN
the spike encoder's settings (`toolchain.hw.snn.predict`, which runs its graph one time step
per image). Specialised HLS/RTL layers run by their Python reference
(`finn.util.verification.despecialize_model`), as the build's own check does. A CNN
accelerator ends in LabelSelect and returns a class index; the integer scores that enter it are
the ranking, so the top 3 come from them. They are accumulator values at the hardware's own
scale, so no calibrated probability exists on this path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import ToolchainError
from .runner import BuildOutcome
from .steps import InputQuant
from .verify import accelerator_input

REPORT = "finn_report.json"


def is_finn_output(path: Path) -> bool:
    return path.is_dir() and ((path / REPORT).is_file() or (path / "finn_output" / REPORT).is_file())


def load_build(path: Path):
    """The predictor of the finn_build output folder `path` (or the run folder holding it)."""
    folder = path if (path / REPORT).is_file() else path / "finn_output"
    try:
        report = json.loads((folder / REPORT).read_text())
        ran = report["steps"]["ran"]
        verification = report["verification"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ToolchainError(f"{folder / REPORT}: not a finn_build report ({exc!r}); expected the output folder "
                             "of `toolchain finn_build`") from None
    hw_file = BuildOutcome(ran=ran, skipped=[], output_dir=folder).hw_model
    if not hw_file.is_file():
        raise ToolchainError(f"{folder}: the HW model {hw_file.relative_to(folder)} named by {REPORT} is missing")
    if "time_steps" in verification:  # an SNN build: T images per frame
        from ..snn.predict import SnnFinnPredictor

        return SnnFinnPredictor.load(folder, report, hw_file)
    return FinnPredictor.load(folder, verification, hw_file)


class FinnPredictor:
    kind = "finn"
    engine = "finn.core.onnx_exec.execute_onnx (HW model, Python execution)"
    device = "cpu"
    model_name = None
    batch_size = 16
    calibrated = False  # scores, not logits: no probabilities

    def __init__(self, model, quant: InputQuant, folder: Path, hw_file: Path, frame_length: int, classes: int):
        self.model, self.quant, self.folder, self.hw_file = model, quant, folder, hw_file
        self.frame_length, self.num_outputs = frame_length, classes
        self.input, self.output = model.graph.input[0].name, model.graph.output[0].name
        self.scores_name = model.find_producer(self.output).input[0]

    @classmethod
    def load(cls, folder: Path, verification: dict, hw_file: Path) -> "FinnPredictor":
        from finn.util.verification import despecialize_model
        from qonnx.core.modelwrapper import ModelWrapper

        try:
            quant = InputQuant(**{k: v for k, v in verification["input_quantizer"].items() if k != "datatype"})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ToolchainError(f"{folder / REPORT}: no input quantizer of a CNN build ({exc!r}); expected the "
                                 "output folder of `toolchain finn_build`") from None
        model = despecialize_model(ModelWrapper(str(hw_file)))
        shape = model.get_tensor_shape(model.graph.input[0].name)  # [1, L, 1, C]
        last = model.find_producer(model.graph.output[0].name)
        if last is None or last.op_type not in ("LabelSelect", "TopK"):
            raise ToolchainError(f"{hw_file}: expected a CNN accelerator ending in LabelSelect")
        classes = int(np.prod(model.get_tensor_shape(last.input[0])))
        return cls(model, quant, folder, hw_file, int(shape[1]), classes)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Frames (B, 2, L) -> the integer scores entering LabelSelect (B, classes)."""
        from finn.core.onnx_exec import execute_onnx

        codes = accelerator_input(x, self.quant, self.model.get_tensor_shape(self.input))
        out = []
        for frame in codes:
            ctx = execute_onnx(self.model, {self.input: frame[None]}, return_full_exec_context=True)
            out.append(np.asarray(ctx[self.scores_name], dtype=np.float64).ravel())
        return np.stack(out)
