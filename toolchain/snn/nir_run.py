"""Run an exported NIR graph in the simulators users have: Norse 1.1 and snnTorch 1.0.

Each imports the graph variant written for it (`snn_to_nir(model, "norse" | "snntorch")`) with
its own public importer (`norse.torch.from_nir(graph, dt=1)`, `snntorch.import_nir.
import_from_nir`) and steps it one time step at a time, one frame at a time (NIR shapes carry no
batch: the graph's Flatten spans the whole tensor). The readout's final membrane comes from the
simulator's own state (Norse: the executor's state of node `li`; snnTorch: the `mem` of the
readout's `Leaky`), or, for a count readout, the output spikes summed over the frame.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

README = "li"  # node name of the readout neuron (snn_to_nir)


def _norse_frames(graph, counts: np.ndarray, membrane: bool) -> np.ndarray:
    import norse.torch
    import torch

    net = norse.torch.from_nir(graph, dt=1.0)
    out = []
    with torch.no_grad():
        for frame in torch.from_numpy(np.ascontiguousarray(counts, dtype=np.float32)):
            state, total = None, 0
            for step in frame:
                z, state = net(step, state)
                total = total + z
            out.append(state.state[README][0].v if membrane else total)
    return torch.stack(out).numpy()


def _snntorch_frames(graph, counts: np.ndarray, membrane: bool) -> np.ndarray:
    import snntorch
    import torch
    from snntorch.import_nir import import_from_nir

    with _quiet():
        net = import_from_nir(graph)
    leaky = [m for m in net.modules() if isinstance(m, snntorch.Leaky)]
    readout = dict(net.named_modules())[README]
    out = []
    with torch.no_grad():
        for frame in torch.from_numpy(np.ascontiguousarray(counts, dtype=np.float32)):
            for m in leaky:  # a new frame: every membrane back to 0
                m.reset_hidden()
            total = 0
            for step in frame:
                spikes, _ = net(step)  # nirtorch's module returns (output, its state dict)
                total = total + spikes
            out.append(readout.mem.clone() if membrane else total)
    return torch.stack(out).numpy()


def _quiet():
    """snnTorch's importer prints progress lines; keep stdout for the toolchain's own."""
    import contextlib
    import io

    return contextlib.redirect_stdout(io.StringIO())


SIMULATORS: dict[str, Callable] = {"norse": _norse_frames, "snntorch": _snntorch_frames}


def simulate(target: str, graph, counts: np.ndarray, membrane: bool = True) -> np.ndarray:
    """Readout (N, classes) of `graph` (the `target` variant) for spike counts (N, T, C, H, W).

    One torch thread while it runs (restored after): a step is a few tiny ops, and on a busy
    machine thread hand-offs made it 30x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return SIMULATORS[target](graph, counts, membrane)
    finally:
        torch.set_num_threads(threads)
