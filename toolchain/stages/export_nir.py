"""Stage `export_nir`: an SNN checkpoint -> `model.nir` (NIR 1.0.8, neuromorphic intermediate
representation), for simulators and neuromorphic back ends that read NIR (docs/nir.md).

The graph holds the integer weights and the LIF parameters mapped with dt = 1 (see
`toolchain.snn.nir_export`); what NIR cannot express about the integer neuron (reset by
subtraction, saturation, the floor of the leak shift, refractory period, v >= theta, the
host-side encoder) is written into the file's metadata. The file is read back with `nir.read`
before it replaces anything, so a file that NIR cannot load is never left behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config
from ..errors import ToolchainError
from ..rundir import RunDir, stage_run, trained_model
from .export_onnx import overrides  # noqa: F401  (the same --model flag)

SUMMARY = "export an SNN checkpoint to NIR (neuromorphic intermediate representation) -> model.nir"
OUT_SUFFIX = ".nir"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="SNN checkpoint (.pth) to export (default: the run's "
                        "final_model.pth, else initial_model.pth); --out may name the .nir file")
    parser.add_argument("--model", help="model name for a bare state_dict without embedded config (model.name)")


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..atomic import atomic_path
    from ..checkpoint import load_model
    from ..snn.nir_export import snn_to_nir
    from ..snn.rates import is_snn

    source = Path(args.input) if args is not None and args.input else trained_model(cfg)
    model, model_cfg, _ = load_model(source, cfg.model)
    if not is_snn(model):
        raise ToolchainError(f"{source}: model '{model_cfg.name}' is not a spiking network; NIR export needs an "
                             "SNN checkpoint (model.name 'snn')")
    graph = snn_to_nir(model.cpu().eval())
    with stage_run(cfg.run.out_dir, "export_nir", cfg, [source]) as run:
        target = Path(getattr(args, "out_file", None) or run.artifact("model_nir"))
        run.outputs["model_nir"] = target.name
        with atomic_path(target) as tmp:
            nodes = write_and_check(graph, tmp)
        run.extra["nir"] = {"nodes": nodes, "limitations": sorted(graph.metadata["limitations"])}
        print(f"wrote {target}: {len(nodes)} NIR nodes ({', '.join(f'{k}: {v}' for k, v in nodes.items())}); "
              f"what NIR cannot express is listed in its metadata 'limitations'")
    return run


def write_and_check(graph, path: Path) -> dict[str, str]:
    """nir.write, then nir.read: the same nodes must come back. Returns node name -> type."""
    import nir

    nir.write(path, graph)
    back = nir.read(path)
    nodes = {name: type(node).__name__ for name, node in back.nodes.items()}
    expected = {name: type(node).__name__ for name, node in graph.nodes.items()}
    if nodes != expected:
        raise ToolchainError(f"{path}: nir.read gives back other nodes than were written ({nodes} vs {expected}); "
                             "nothing was written")
    return nodes
