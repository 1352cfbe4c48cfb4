"""The pipeline's stages: name -> Stage, in default order.

Each implemented stage is a module `toolchain.stages.<name>` with `SUMMARY`,
`add_arguments(parser)` (its own flags), `overrides(args) -> list[str]` (flags as config
overrides, so a flag and `--set` mean the same) and `run(cfg, args) -> RunDir`. Modules are
imported only when their stage runs, so `--help` and config errors stay instant.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Optional


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    sections: tuple[str, ...] = ("run",)  # the config sections it reads: listed by its --help
    planned: Optional[str] = None  # set while a later release still has to deliver the stage

    @property
    def implemented(self) -> bool:
        return self.planned is None

    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}")


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("data", "prepare the dataset: synthesise one if none is configured, summarise and plot it",
              ("run", "data", "synth")),
        Stage("train_initial", "train the configured model -> initial_model.pth", ("run", "data", "model", "train")),
        Stage("convert", "ANN->SNN conversion of a trained ReLU CNN, accuracy vs time steps -> converted_model.pth",
              ("run", "data", "model", "train", "eval", "convert")),
        Stage("prune", "iterative magnitude pruning with fine-tuning -> final_model.pth",
              ("run", "data", "model", "train", "prune")),
        Stage("reduce_bits", "post-training bit-width reduction sweep -> bits_sweep.json, final_model.pth",
              ("run", "data", "model", "train", "prune")),
        Stage("evaluate", "accuracy overall, per SNR and per class, confusion matrices -> accuracy.json",
              ("run", "data", "model", "eval", "energy")),
        Stage("export_onnx", "export a checkpoint to QONNX (batch 1) -> model_export.onnx", ("run", "model", "export")),
        Stage("export_nir", "export an SNN checkpoint to NIR (neuromorphic intermediate representation) -> model.nir",
              ("run", "model")),
        Stage("export_inference_cost", "qonnx inference cost and challenge score -> model_cost.json", ("run", "cost")),
        Stage("finn_build", "FINN dataflow build: estimates, HLS code, bitstream where Vivado exists",
              ("run", "model", "finn", "data")),
        Stage("classify", "classify every frame of a SigMF, raw I/Q or RadioML HDF5 recording -> classes.json/.csv, "
              "SigMF annotations", ("run", "classify", "eval", "model")),
        Stage("report", "one self-contained HTML page of a run directory -> report.html (`toolchain run` runs it last)"),
    )
}

DEFAULT_ORDER: list[str] = list(STAGES)
# `toolchain run` ends with this stage whatever run.stages lists, and after a stage that failed.
LAST = "report"
