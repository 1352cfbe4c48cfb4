"""Stage `export_onnx`: a checkpoint -> `model_export.onnx` (QONNX, batch 1), verified.

Exported with `brevitas.export.export_qonnx` through the TorchScript exporter (`dynamo=False`:
the dynamo exporter writes weights into a `.onnx.data` sidecar a user could lose), cleaned up
with `qonnx.util.cleanup`, saved as one self-contained file. Before the file is kept, random
inputs go through PyTorch and through qonnx execution of the file: the class must match for
every input and the outputs within `export.atol`; the result goes into the manifest, and a
mismatch fails the stage (no file is left behind).

A spiking network (`toolchain.models.snn.SNN`) cannot be traced by Brevitas (its time loop
carries state): `toolchain.snn.export_qonnx` builds its graph node by node, and the verification
is exact: every layer's spikes and the readout at every time step, for random frames and random
spike-count tensors (docs/snn_qonnx.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import atomic_path
from ..config import Config, text_override
from ..errors import ToolchainError
from ..rundir import RunDir, stage_run, trained_model

SUMMARY = "export a checkpoint to QONNX (batch 1) -> model_export.onnx"
OUT_SUFFIX = ".onnx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="checkpoint (.pth) to export (default: the run's "
                        "final_model.pth, else initial_model.pth); --out may name the .onnx file")
    parser.add_argument("--model", help="model name for a bare state_dict without embedded config (model.name)")


def overrides(args: argparse.Namespace) -> list[str]:
    return [text_override("model.name", args.model)] if args.model else []


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..checkpoint import load_model

    source = Path(args.input) if args is not None and args.input else trained_model(cfg)
    model, model_cfg, _ = load_model(source, cfg.model)
    with stage_run(cfg.run.out_dir, "export_onnx", cfg, [source]) as run:
        target = getattr(args, "out_file", None) or run.artifact("model_export")
        run.outputs["model_export"] = str(Path(target).name)
        if _is_snn(model):
            _export_snn(model, cfg, target, run)
            return run
        from ..models.export_qonnx import export_qonnx, verify

        with atomic_path(target) as tmp:
            wrapper = export_qonnx(model, model_cfg.input_length, tmp)
            verification = verify(model, wrapper, model_cfg.input_length, cfg.export.verify_inputs,
                                  cfg.export.seed, cfg.export.atol)
            run.extra["verification"] = verification
            if not verification["passed"]:
                raise ToolchainError(
                    f"export verification failed: {verification['class_mismatches']} of {verification['inputs']} "
                    f"inputs changed class, max |difference| {verification['max_abs_diff']:.3g} "
                    f"(allowed {cfg.export.atol}); nothing was written")
        print(f"wrote {target}: {verification['inputs']} random inputs agree with PyTorch "
              f"(max |difference| {verification['max_abs_diff']:.2g})")
    return run


def _is_snn(model) -> bool:
    from ..models.snn import SNN

    return isinstance(model, SNN)


def _export_snn(model, cfg: Config, target, run: RunDir) -> None:
    from ..snn.export_qonnx import export_snn, failure_message, verify_snn

    with atomic_path(target) as tmp:
        wrapper = export_snn(model, tmp)
        verification = verify_snn(model, wrapper, cfg.export.verify_inputs, cfg.export.seed)
        run.extra["verification"] = verification
        if not verification["passed"]:
            raise ToolchainError(failure_message(verification))
    v = verification
    print(f"wrote {target}: every layer's spikes and the readout at each of {v['time_steps']} time steps equal "
          f"PyTorch exactly ({v['random_frames']} random frames + {v['random_count_tensors']} random spike-count "
          f"tensors, {v['compared_values']:,} values)")
