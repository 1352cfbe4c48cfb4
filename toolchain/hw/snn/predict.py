"""Classify frames with a finished SNN `finn_build`: the final HW model run by Python execution,
one time step per image, fed what the accelerator takes.

The host encodes every I/Q frame into its T time steps of spike counts with the settings the
build recorded in `finn_report.json` (`verification.model_config`, copied from the QONNX
export's metadata), as the CNN path quantises on the host. Each frame then runs through
`execute.execute_frame`: whatever HW layers the graph holds, stateless ones once per step and
stateful ones across the frame's steps, specialised HLS/RTL layers by their Python reference
(`finn.util.verification.despecialize_model`), as the build's own check does. The class follows
the model's readout rule (`model.snn_readout`): the readout membranes after the last step, or
the output spikes summed over the steps. These integer scores rank the classes (ties to the
lowest index, as in argmax); no calibrated probability exists on this path.

The default (event-driven) build's graph takes what its accelerator takes, int I/Q codes: the
host only quantises each frame with the model's input quantizer (`accel_verify.quantize`), and
the graph's Python execution returns the class and the readout's final membranes. The scores
are those membranes (membrane readout), or 1 for the chosen class and 0 for the others (count
readout: the accelerator returns the class, not the counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ToolchainError
from .dense.execute import execute_frame, graph_layout
from .dense.verify import readout_scores


class SnnFinnPredictor:
    kind = "finn"
    engine = "qonnx.core.onnx_exec.execute_node (SNN HW model, Python execution, one time step per image)"
    device = "cpu"
    model_name = "snn"
    batch_size = 16
    calibrated = False  # membranes or spike counts, not logits: no probabilities

    def __init__(self, model, config, folder: Path, hw_file: Path):
        self.model, self.config, self.folder, self.hw_file = model, config, folder, hw_file
        self.frame_length, self.num_outputs = config.input_length, config.num_classes
        iname = model.graph.input[0].name
        self.datatype = model.get_tensor_datatype(iname)
        self.output = model.graph.output[0].name

    @classmethod
    def load(cls, folder: Path, report: dict, hw_file: Path) -> "SnnFinnPredictor":
        from finn.util.verification import despecialize_model
        from qonnx.core.modelwrapper import ModelWrapper

        from ...config import ModelConfig, from_dict

        recorded = report.get("verification", {}).get("model_config")
        if not recorded:
            raise ToolchainError(f"{folder / 'finn_report.json'}: no encoder settings (verification.model_config); "
                                 "build it again with toolchain finn_build from a QONNX written by export_onnx")
        config = from_dict(ModelConfig, recorded, "model")
        from .event.event_graph import is_event_graph

        model = ModelWrapper(str(hw_file))
        if is_event_graph(model):
            return EventFinnPredictor(model, config, folder, hw_file)
        model = despecialize_model(model)
        classes = int(np.prod(model.get_tensor_shape(model.graph.output[0].name)))
        if classes != config.num_classes:
            raise ToolchainError(f"{hw_file}: {classes} outputs per time step, the recorded model has "
                                 f"{config.num_classes} classes")
        return cls(model, config, folder, hw_file)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Frames (B, 2, L) -> the integer scores of the readout rule (B, classes)."""
        import torch

        from ...snn.encoders import encode

        with torch.no_grad():
            counts = encode(self.config, torch.from_numpy(x)).numpy()  # (B, T, C, H, W)
        lo, hi = self.datatype.min(), self.datatype.max()
        if counts.min() < lo or counts.max() > hi:
            raise ToolchainError(f"{self.hw_file}: a frame encodes to spike counts in [{counts.min():g}, "
                                 f"{counts.max():g}], outside the accelerator's input {self.datatype.name}")
        readout = np.stack([execute_frame(self.model, graph_layout(self.model, frame))[self.output]
                            .reshape(frame.shape[0], -1) for frame in counts])  # (B, T, classes)
        return readout_scores(readout, self.config.snn_readout == "membrane").astype(np.float64)


class EventFinnPredictor(SnnFinnPredictor):
    engine = "qonnx.core.onnx_exec.execute_onnx (SNN event-driven HW model, Python execution of its kernels' ops)"

    def __init__(self, model, config, folder: Path, hw_file: Path):
        from .event.event_graph import graph_spec

        super().__init__(model, config, folder, hw_file)
        self.spec = graph_spec(model)
        if self.spec.dense.outputs != config.num_classes:
            raise ToolchainError(f"{hw_file}: {self.spec.dense.outputs} readout neurons, the recorded model has "
                                 f"{config.num_classes} classes")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from .event.accel_verify import quantize
        from .event.event_graph import execute

        classes, membranes = execute(self.model, quantize(x, self.spec))
        if self.spec.dense.membrane:
            return membranes.astype(np.float64)
        return np.eye(self.num_outputs)[classes]
