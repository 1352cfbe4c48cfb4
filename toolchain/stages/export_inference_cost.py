"""Stage `export_inference_cost`: `model_export.onnx` -> `model_cost.json` (+ `model_final.onnx`,
`model_cost.png`).

Costs come from `qonnx.util.inference_cost` (sparsity discounted unless `cost.discount_sparsity`
is false). Ops the counter cannot cost are an error unless `cost.allow_unsupported` is true: a
model must not look cheap by hiding work in ops nobody counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import atomic_path, write_json
from ..config import Config
from ..errors import ToolchainError
from ..rundir import ARTIFACTS, RunDir, stage_run

SUMMARY = "qonnx inference cost and challenge score -> model_cost.json"
OUT_SUFFIX = ".json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="QONNX model (default: the run's model_export.onnx); "
                        "--out may name the .json file")
    parser.add_argument("--allow-unsupported", action="store_true",
                        help="report ops the counter cannot cost instead of failing (cost.allow_unsupported)")


def overrides(args: argparse.Namespace) -> list[str]:
    return ["cost.allow_unsupported=true"] if args.allow_unsupported else []


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.inference_cost import inference_cost

    from ..reports.cost import cost_report, plot_layers

    source = Path(args.input) if args is not None and args.input else Path(cfg.run.out_dir) / ARTIFACTS["model_export"]
    wrapper = load_onnx(source)
    with stage_run(cfg.run.out_dir, "export_inference_cost", cfg, [source]) as run:
        target = getattr(args, "out_file", None) or run.artifact("model_cost")
        run.outputs["model_cost"] = Path(target).name
        final = run.artifact("model_final")
        with atomic_path(final) as tmp:
            result = inference_cost(wrapper, output_onnx=str(tmp), discount_sparsity=cfg.cost.discount_sparsity,
                                    cost_breakdown=True)
            op_types = {n.name: n.op_type for n in ModelWrapper(str(tmp)).graph.node}
        report = cost_report(result, op_types)
        if report["unsupported"] and not cfg.cost.allow_unsupported:
            final.unlink()
            raise ToolchainError(
                f"{source}: the cost counter cannot cost these ops: {', '.join(report['unsupported'])}; "
                "their work would be left out of the score (allow with --allow-unsupported)")
        write_json(target, report)
        plot_layers(report, run.artifact("model_cost_plot"))
        print(f"wrote {target}: {report['total_bops']:,} bit operations, {report['total_mem_w_bits']:,} weight bits, "
              f"score {report['score']:.4f}" + (f" (unsupported ops: {report['unsupported']})" if report["unsupported"] else ""))
    return run


def load_onnx(path: Path):
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    if not path.is_file():
        raise ToolchainError(f"{path}: no such ONNX file (run export_onnx first or give the model as INPUT)")
    try:
        return ModelWrapper(onnx.load(str(path)))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise ToolchainError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
