"""Stage `export_nir`: an SNN checkpoint -> `model.nir` (NIR 1.0.8, neuromorphic intermediate
representation), for simulators and neuromorphic back ends that read NIR (docs/nir.md).

The graph holds the integer weights and the LIF parameters mapped with dt = 1 (see
`toolchain.snn.nir_export`); what NIR cannot express about the integer neuron (reset by
subtraction, saturation, the floor of the leak shift, refractory period, v >= theta, the
host-side encoder) is written into the file's metadata. Beside it, the variants that Norse and
snnTorch import and step as the model does (`model.norse.nir`, `model.snntorch.nir`). Every file
is read back with `nir.read` before any replaces anything, so a file that NIR cannot load is
never left behind.
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
    from contextlib import ExitStack

    from ..atomic import atomic_path
    from ..checkpoint import load_model
    from ..snn.nir_export import TARGETS, snn_to_nir
    from ..snn.rates import is_snn

    source = Path(args.input) if args is not None and args.input else trained_model(cfg)
    model, model_cfg, _ = load_model(source, cfg.model)
    if not is_snn(model):
        raise ToolchainError(f"{source}: model '{model_cfg.name}' is not a spiking network; NIR export needs an "
                             "SNN checkpoint (model.name 'snn')")
    model = model.cpu().eval()
    graphs = {target: snn_to_nir(model, target) for target in TARGETS}
    with stage_run(cfg.run.out_dir, "export_nir", cfg, [source]) as run, ExitStack() as stack:
        target = Path(getattr(args, "out_file", None) or run.artifact("model_nir"))
        run.outputs["model_nir"] = target.name
        paths = {"nir": target}
        for sim in TARGETS[1:]:  # beside the main file: NAME.norse.nir, NAME.snntorch.nir
            paths[sim] = target.with_name(f"{target.name[:-len(OUT_SUFFIX)]}.{sim}{OUT_SUFFIX}")
            run.outputs[f"model_nir_{sim}"] = paths[sim].name
        nodes = {}
        for sim, path in paths.items():
            nodes[sim] = write_and_check(graphs[sim], stack.enter_context(atomic_path(path)))
        run.extra["nir"] = {"nodes": nodes["nir"], "limitations": sorted(graphs["nir"].metadata["limitations"]),
                            "variants": {sim: paths[sim].name for sim in TARGETS[1:]}}
        listed = ", ".join(f"{k}: {v}" for k, v in nodes["nir"].items())
        print(f"wrote {target}: {len(nodes['nir'])} NIR nodes ({listed}); "
              f"what NIR cannot express is listed in its metadata 'limitations'; for Norse (from_nir, dt=1) "
              f"and snnTorch (import_from_nir): {paths['norse'].name}, {paths['snntorch'].name}")
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
