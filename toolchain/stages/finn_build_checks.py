"""What `finn_build` checks before any Vivado step, per kind of model: the FINN models (and the
PyTorch checkpoint) against the QONNX model on the same frames, and for an SNN the event-driven
accelerator, C-simulated and RTL-simulated on the data file's test split.

`checks` returns the `Checks` of the model: the files FINN's own C++ simulation compares (CNN,
where Vitis HLS exists) and the `check` run_build calls after HW code generation, which fills
`verification` (and `event_driven`) and raises a one-line ToolchainError when anything differs,
so that a wrong model never costs a synthesis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import Config
from ..errors import ToolchainError

CODE_DIR = "code_gen"  # FINN's build directory inside finn_output: generated HLS/RTL per layer
EVENT_DRIVEN_PLOT = "event_driven.png"  # SNNs: the event-driven accelerator's cycles per frame
RTL_PROJECT = "rtl_project"  # SNNs, RTL backends: the stitched accelerator's sources, file list and OOC XDC


@dataclass
class Checks:
    npy: Optional[tuple[Path, Path]]  # FINN's folded_hls_cppsim input and expected output, where it can run
    check: Callable[[Any], None]  # run_build's check of its outcome
    verification: dict = field(default_factory=dict)
    event_driven: dict = field(default_factory=dict)
    event_spec: Any = None  # the event-driven accelerator measured (the build's, else the checkpoint's mapping)


def checks(cfg: Config, onnx_file: Path, shape: list[int], snn: bool, event: bool, checkpoint: Optional[Path],
           data: Optional[Path], missing: list[str], out: Path) -> Checks:
    if event:
        return _event_driven(cfg, onnx_file, checkpoint, data, out)
    if snn:
        return _dense_snn(cfg, onnx_file, checkpoint, data, out)
    return _cnn(cfg, onnx_file, shape, checkpoint, missing, out)


def _measure_event_driven(c: Checks, cfg: Config, checkpoint: Optional[Path], data: Optional[Path], out: Path,
                          spec=None, carry_depths=None) -> None:
    """The data file's test split (else the verification's I/Q frames) through the whole
    event-driven accelerator of the checkpoint (`spec`: the one the build made): cycles, FIFO
    depths (`carry_depths`: into the build's HW graph), bit exact or nothing kept."""
    from ..hw.snn.event import accel_report

    c.event_driven.update(accel_report.evaluate(checkpoint, split_frames(cfg, data), out / CODE_DIR / "accel_csim",
                                                cfg.finn.verify_inputs, cfg.finn.verify_synthetic, cfg.finn.seed,
                                                figure=out / EVENT_DRIVEN_PLOT, spec=spec,
                                                rtl=cfg.finn.event_driven_rtl, impl_style=cfg.finn.event_impl_style,
                                                carry_depths=carry_depths))
    c.verification["accelerator_csim"] = {k: c.event_driven[k] for k in ("mapped", "passed", "check")
                                          if k in c.event_driven}
    c.event_spec = spec
    if c.event_driven["mapped"] and not c.event_driven["passed"]:
        raise ToolchainError(f"{accel_report.summary_line(c.event_driven)}; nothing was kept")


def _event_driven(cfg: Config, onnx_file: Path, checkpoint: Optional[Path], data: Optional[Path],
                  out: Path) -> Checks:
    """The default SNN build: the event-driven kernels' HW graph takes int I/Q codes."""
    import numpy as np

    from ..hw.snn.event import event_verify
    from ..hw.snn.steps import IQ_CODES_FILE

    codes, kinds = event_verify.make_codes(onnx_file, cfg.finn.verify_inputs, cfg.finn.verify_synthetic,
                                           cfg.finn.verify_inputs, cfg.finn.seed)
    (out / "verification_output").mkdir(parents=True, exist_ok=True)
    # step_snn_event_driven measures each kernel's activity on the I/Q frames (not on the random codes)
    np.save(out / "verification_output" / IQ_CODES_FILE, codes[[k != "random codes" for k in kinds]])

    def check(outcome) -> None:
        from qonnx.core.modelwrapper import ModelWrapper

        from ..hw.snn.event import accel_rtl, event_graph

        c.verification.update(event_verify.verify(onnx_file, outcome.hw_model, codes, kinds, checkpoint,
                                                  out / CODE_DIR / "accel_csim"))
        if not c.verification["passed"]:
            raise ToolchainError(f"{event_verify.summary_line(c.verification)}; nothing was kept")
        hw_graph = ModelWrapper(str(outcome.hw_model))

        def carry_depths(depths: list[int]) -> list[int]:
            """The FIFO depths into the HW graph (FINN's in/outFIFODepths, which its InsertFIFO and
            the RTL project read), saved where the Vivado steps resume from; read back."""
            accel_rtl.set_graph_fifo_depths(hw_graph, depths)
            hw_graph.save(str(outcome.hw_model))
            return accel_rtl.graph_fifo_depths(ModelWrapper(str(outcome.hw_model)))
        _measure_event_driven(c, cfg, checkpoint, data, out, event_graph.graph_spec(hw_graph), carry_depths)
        if cfg.finn.event_impl_style == "rtl":  # the stitched RTL accelerator at the build's FIFO depths
            accel_rtl.write_graph_project(hw_graph, out / RTL_PROJECT)  # holds the depths carry_depths saved
    c = Checks(None, check)
    return c


def _dense_snn(cfg: Config, onnx_file: Path, checkpoint: Optional[Path], data: Optional[Path], out: Path) -> Checks:
    from ..hw.snn.dense import verify as snn_ver

    inputs, kinds = snn_ver.make_inputs(onnx_file, checkpoint, cfg.finn.verify_inputs, cfg.finn.verify_synthetic,
                                        cfg.finn.verify_inputs, cfg.finn.seed)

    def check(outcome) -> None:
        c.verification.update(snn_ver.verify(onnx_file, outcome.intermediate("step_snn_lower"), outcome.hw_model,
                                             inputs, kinds, checkpoint, out / CODE_DIR / "lif_csim"))
        if not c.verification["passed"]:
            raise ToolchainError(f"{snn_ver.summary_line(c.verification)}; nothing was kept")
        _measure_event_driven(c, cfg, checkpoint, data, out)
    # FINN's own cppsim needs finn-hlslib; the LIF kernels are C-simulated with g++ instead
    c = Checks(None, check)
    return c


def _cnn(cfg: Config, onnx_file: Path, shape: list[int], checkpoint: Optional[Path], missing: list[str],
         out: Path) -> Checks:
    from ..hw.finn import verify as ver

    frames, kinds = ver.make_frames(cfg.finn.verify_inputs, cfg.finn.verify_synthetic, shape[1], shape[2],
                                    cfg.finn.seed)
    cppsim_ok, cppsim_reason = _cppsim_available(missing)

    def check(outcome) -> None:  # before any Vivado step: a wrong model must not cost hours of synthesis
        c.verification.update(ver.verify(onnx_file, outcome.intermediate("step_streamline"), outcome.hw_model,
                                         frames, kinds, checkpoint, cfg.model))
        c.verification["cppsim"] = _cppsim_result(out, cppsim_ok, cppsim_reason)
        if not c.verification["passed"] or c.verification["cppsim"].get("passed") is False:
            raise ToolchainError(f"{ver.summary_line(c.verification)}; nothing was kept")
    c = Checks(_cppsim_inputs(out, onnx_file, frames) if cppsim_ok else None, check)
    return c


def split_frames(cfg: Config, data: Optional[Path]):
    """The official test split of `data` (with the data.classes filter): all of it, or
    finn.event_driven_frames spread evenly over it."""
    if data is None:
        return None
    import numpy as np

    from ..data.dataset import RadioMLDataset
    from ..hw.snn.event.accel_report import Frames

    ds = RadioMLDataset.splits(data, classes=cfg.data.classes, require_train=False)["test"]
    if len(ds) == 0:
        raise ToolchainError(f"{data}: the official test split has no frames")
    cap = cfg.finn.event_driven_frames
    pos = np.arange(len(ds)) if cap is None or cap >= len(ds) else np.linspace(0, len(ds) - 1, cap).round().astype(int)
    x, _, _ = ds.read(pos)
    return Frames(x, {"file": str(data), "split": "test", "frames_in_split": len(ds)})


def _cppsim_available(missing: list[str]) -> tuple[bool, str]:
    from finn.util.settings import get_settings

    if missing:
        return False, (f"needs Vitis HLS ({', '.join(missing)} not on PATH; FINN compiles against "
                       "$XILINX_HLS/include and its libraries) and finn-hlslib (bnn-library.h)")
    hlslib = get_settings().finn_deps / "finn-hlslib" / "bnn-library.h"
    headers = Path(os.environ.get("XILINX_HLS", "")) / "include" / "hls_vector.h"
    absent = [str(p) for p in (hlslib, headers) if not p.is_file()]
    return (not absent, f"headers not found: {', '.join(absent)}" if absent else "")


def _cppsim_inputs(out: Path, onnx_file: Path, frames) -> tuple[Path, Path]:
    """The files of FINN's folded_hls_cppsim check: the accelerator's input for each frame and
    the QONNX model's class, which the C++ simulation of the folded HLS layers must reproduce."""
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from ..hw.finn import verify as ver

    reference = ModelWrapper(str(onnx_file))
    quant, _ = ver.input_quant(reference)
    folder = out / "verification_output"
    folder.mkdir(parents=True, exist_ok=True)
    n, c, length = frames.shape
    np.save(folder / "input.npy", ver.accelerator_input(frames, quant, [1, length, 1, c]))
    np.save(folder / "expected_output.npy", ver.qonnx_logits(reference, frames).argmax(1).reshape(n, 1).astype("f4"))
    return folder / "input.npy", folder / "expected_output.npy"


def _cppsim_result(out: Path, ran: bool, reason: str) -> dict:
    if not ran:
        return {"ran": False, "reason": reason}
    results = sorted((out / "verification_output").glob("verify_folded_hls_cppsim_*_*.np*"))
    failed = [p.name for p in results if "_FAIL" in p.name]
    return {"ran": True, "frames": len(results), "passed": bool(results) and not failed, "failed": failed}
