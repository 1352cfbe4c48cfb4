"""Out-of-context Yosys synthesis of every RTL layer of a code-generated FINN model
(`finn.synthesize_rtl`): LUT, LUTRAM, FF, BRAM, DSP per layer beside FINN's estimate.

Each layer's tops (`rtl_sources.layer_units`: the core and, for an MVAU, its weight streamer)
are synthesized for the board's family and summed; results are cached by the hash of the RTL
(the shared harness' `cache_dir`), so an unchanged layer is not synthesized again. HLS layers
have no RTL before Vitis HLS runs: they keep FINN's estimate, and the report says so.

Yosys is not Vivado: it infers no SRLs from FINN's shift-register coding (its FF counts run high)
and maps logic differently; figures are labelled "synthesized (Yosys ...)". Where `xcup`
mapping of distributed RAM deeper than 256 words fails (a Yosys bug in lutrams_xc5v_map.v), the
layer is synthesized for `xc7`, whose LUTRAM mapping works, and the row says so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from ...errors import ToolchainError

FAMILIES = (("xc7", "xc7"), ("xczu", "xcup"), ("xcu", "xcup"), ("xck", "xcup"), ("xcvu", "xcup"))
LUTRAM_BUG = "lutrams_xc5v_map.v"


def family(part: str) -> Optional[str]:
    """Yosys' synth_xilinx family of a Xilinx part; None where it has none (Versal)."""
    return next((fam for prefix, fam in FAMILIES if part.lower().startswith(prefix)), None)


def synthesize_layers(model, part: str, cache_dir: Path,
                      progress: Callable[[str], None] = lambda _: None) -> dict[str, dict[str, Any]]:
    """{node name: synthesized figures} for every RTL node of `model` (after step_hw_codegen)."""
    from finn.util.basic import getHWCustomOp
    from finn.util.fpgadataflow import is_rtl_node

    from ..rtl.yosys import SYNTH_SOURCE, YosysError, synthesize
    from . import rtl_sources

    fam = family(part)
    if fam is None:
        raise ToolchainError(f"finn.synthesize_rtl: Yosys has no synth_xilinx family for part {part}")
    out = {}
    nodes = [n for n in model.graph.node if is_rtl_node(n)]
    for i, node in enumerate(nodes):
        progress(f"Yosys synthesis {i + 1}/{len(nodes)}: {node.name}")
        inst = getHWCustomOp(node)
        total: dict[str, Any] = {"LUT": 0, "LUTRAM": 0, "SRL": 0, "FF": 0, "BRAM_18K": 0, "URAM": 0, "DSP": 0,
                                 "family": fam, "source": SYNTH_SOURCE, "notes": []}
        for unit in rtl_sources.layer_units(inst):
            with tempfile.TemporaryDirectory() as tmp:
                sources = rtl_sources.prepare(unit, Path(tmp))
                kwargs = dict(top=unit.top, frontend_args=rtl_sources.SLANG_ARGS, pre_synth=rtl_sources.PRE_SYNTH,
                              cache_dir=cache_dir, data=unit.data)
                try:
                    r = synthesize(sources, family=fam, **kwargs)
                except YosysError as exc:
                    if fam != "xcup" or LUTRAM_BUG not in str(exc):
                        raise
                    r = synthesize(sources, family="xc7", **kwargs)
                    total["notes"].append(f"{unit.top}: synthesized for xc7 (Yosys fails to map its deep LUTRAM "
                                          "for xcup)")
            total["LUT"] += r.lut + r.lutram + r.srl  # as Vivado's "CLB LUTs"
            total["LUTRAM"] += r.lutram
            total["SRL"] += r.srl
            total["FF"] += r.ff
            total["BRAM_18K"] += r.bram18 + 2 * r.bram36
            total["URAM"] += r.uram
            total["DSP"] += r.dsp
        out[node.name] = total
    return out
