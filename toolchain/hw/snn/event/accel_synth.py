"""Yosys synthesis of the event-driven accelerator's RTL (`finn.synthesize_rtl` for an SNN,
finn_report.json's `event_driven.synthesized`, bench/snn_hw.py): each kernel alone (its
`stream_top` at the layer's parameters and weight ROM files) and the stitched `snn_accel` (the
kernels and the FIFOs at the build's depths), out of context for a Xilinx family, beside the
formula estimates of `resources.py`, each figure labelled by how it was obtained.

Results are cached by the hash of the RTL (sources, rendered top, ROM files, script: the shared
harness' `cache_dir`), so an unchanged kernel is not synthesized again. The LUT-level budget is
the depth a 250 MHz register-to-register path may take (conv/rtl.py); it is a budget, not a
timing result: nothing here checks timing. Yosys is not Vivado: how far Vivado's figures for
the same RTL differ is not measured here (no Vivado).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ....errors import ToolchainError
from .. import resources
from . import accel_rtl
from .accelerator import AcceleratorSpec
from .conv import rtl as conv_rtl
from .encoder import rtl as enc_rtl
from .readout import rtl as dense_rtl

LUT_LEVEL_BUDGET = conv_rtl.LUT_LEVEL_BUDGET  # every kernel's register-to-register paths, 250 MHz
ESTIMATE_SOURCE = "estimate (toolchain/hw/snn/resources.py)"
LUTRAM_BUG = "lutrams_xc5v_map.v"  # as hw/finn/rtl_synth.py


@dataclass
class Unit:
    """One synthesis run: `top` in the sources plus a rendered file, the memory files beside them."""

    name: str
    top: str
    sources: Sequence[Path]
    rendered: dict[str, str]  # file name -> text (the top, and ROM files as data)
    data: dict[str, str] = field(default_factory=dict)


def kernel_count(spec: AcceleratorSpec) -> int:
    return len(spec.convs) + 2


def kernel_unit(spec: AcceleratorSpec, k: int) -> Unit:
    """Kernel k's `stream_top` at the layer's parameters (0 the encoder, then the convs, last the
    readout); a layer the RTL cannot take raises its one-line ToolchainError here."""
    if k == 0:
        return Unit("encoder", "stream_top", [enc_rtl.SOURCE], {"encoder_top.sv": enc_rtl.render_top(spec.encoder)})
    if k <= len(spec.convs):
        c = spec.convs[k - 1]
        return Unit(c.name, "stream_top", list(conv_rtl.SOURCES), {f"{c.name}_top.sv": conv_rtl.render_top(c)},
                    conv_rtl.rom_files(c))
    d = spec.dense
    roms = getattr(dense_rtl, "rom_files", None)  # where the readout takes its weights from files
    return Unit(d.name, "stream_top", list(dense_rtl.SOURCES), {f"{d.name}_top.sv": dense_rtl.render_top(d)},
                roms(d) if roms is not None else {})


def stitched_unit(spec: AcceleratorSpec, depths: Sequence[int]) -> Unit:
    """`snn_accel` with its FIFOs at `depths`, from the same files `accel_rtl.write_project` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = accel_rtl.write_project(spec, depths, Path(tmp))
        texts = {p.name: p.read_text() for p in paths}
    order = [line for line in texts[f"{accel_rtl.TOP}.f"].splitlines() if line]
    data = {n: t for n, t in texts.items() if n.endswith((".hex", ".mem"))}
    return Unit("stitched", accel_rtl.TOP, [], {n: texts[n] for n in order}, data)


def synthesize_unit(unit: Unit, cache_dir: Optional[Path], family: str = "xcup", timeout_s: float = 7200):
    """`yosys.synthesize` of one unit (SynthResult), cached in `cache_dir`."""
    from ...rtl.yosys import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rendered = []
        for name, text in {**unit.rendered, **unit.data}.items():
            (folder / name).write_text(text)
            if name in unit.rendered:
                rendered.append(folder / name)
        return synthesize([*unit.sources, *rendered], unit.top, family=family, cache_dir=cache_dir,
                          timeout_s=timeout_s, data=[folder / n for n in unit.data])


def _synthesize_or_xc7(unit: Unit, cache_dir: Optional[Path], family: str):
    """As `synthesize_unit`; where Yosys fails to map xcup LUTRAM deeper than 256 words (its bug in
    lutrams_xc5v_map.v: a deep FIFO), the unit is synthesized for xc7 instead (`family` says so)."""
    from ...rtl.yosys import YosysError

    try:
        return synthesize_unit(unit, cache_dir, family)
    except YosysError as exc:
        if family != "xcup" or LUTRAM_BUG not in str(exc):
            raise
        return synthesize_unit(unit, cache_dir, "xc7")


def figures(r) -> dict[str, Any]:
    """A SynthResult as the report's row: LUT as Vivado's "CLB LUTs" (logic + LUTRAM + SRL)."""
    return {"LUT": r.lut_total, "LUT_logic": r.lut, "LUTRAM": r.lutram, "SRL": r.srl, "FF": r.ff,
            "BRAM18": r.bram18, "BRAM36": r.bram36, "BRAM36_equivalent": r.bram36_equivalent, "URAM": r.uram,
            "DSP": r.dsp, "CARRY": r.carry, "lut_levels": r.lut_levels, "family": r.family,
            "source": r.as_dict()["source"]}


def estimate_figures(est: dict[str, Any]) -> dict[str, Any]:
    return {"LUT": est["lut"], "FF": est["ff"], "BRAM18": est["bram18"], "DSP": est["dsp"], "source": ESTIMATE_SOURCE}


def synthesize_accelerator(spec: AcceleratorSpec, depths: Optional[Sequence[int]], cache_dir: Optional[Path],
                           family: str = "xcup", stitched: bool = True,
                           progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The report section: per kernel (and the stitched top when `stitched` and `depths` are
    given) the synthesized figures beside the estimate, the LUT levels against the budget. A
    kernel the RTL cannot map is listed with the reason, not synthesized."""
    est = resources.accelerator(spec)
    names = ["encoder", *(c.name for c in spec.convs), spec.dense.name]
    kernels: dict[str, Any] = {name: {"estimate": estimate_figures(est["layers"][name])} for name in names}
    units = []
    for k, name in enumerate(names):
        try:
            units.append(kernel_unit(spec, k))
        except ToolchainError as exc:
            kernels[name]["not_synthesized"] = str(exc)
    for i, unit in enumerate(units):
        progress(f"Yosys synthesis {i + 1}/{len(units) + int(stitched)}: {unit.name}")
        r = _synthesize_or_xc7(unit, cache_dir, family)
        kernels[unit.name]["synthesized"] = figures(r)
        kernels[unit.name]["lut_levels_within_budget"] = r.lut_levels <= LUT_LEVEL_BUDGET
    done = [k["synthesized"] for k in kernels.values() if "synthesized" in k]
    out: dict[str, Any] = {
        "family": family, "lut_level_budget": LUT_LEVEL_BUDGET, "kernels": kernels,
        "sum_of_kernels": {**{k: sum(d[k] for d in done) for k in ("LUT", "LUTRAM", "FF", "BRAM18", "BRAM36", "URAM",
                                                                   "DSP")},
                           "kernels": len(done), "of": len(kernels),
                           "source": "sum of the kernels synthesized alone (FIFOs not included)"},
        "estimate_total": _estimate_total(spec, est, depths),
        "note": f"synthesized out of context by Yosys for {family}; LUT = logic + LUTRAM + SRL (Vivado's CLB LUTs); "
                f"lut_levels: the most LUTs on one register-to-register path, against a budget of {LUT_LEVEL_BUDGET} "
                "for the assumed 250 MHz (not a timing result); how Vivado's figures for the same RTL differ is not "
                "measured here",
    }
    if stitched and depths is not None:
        progress(f"Yosys synthesis {len(units) + 1}/{len(units) + 1}: stitched {accel_rtl.TOP}")
        try:
            unit = stitched_unit(spec, depths)
        except ToolchainError as exc:  # a kernel the RTL cannot take (Yosys' own failures propagate)
            out["stitched"] = {"not_synthesized": str(exc)}
        else:
            r = _synthesize_or_xc7(unit, cache_dir, family)
            out["stitched"] = {**figures(r), "fifo_depths": list(depths),
                               "lut_levels_within_budget": r.lut_levels <= LUT_LEVEL_BUDGET}
    return out


def _estimate_total(spec: AcceleratorSpec, est: dict[str, Any], depths: Optional[Sequence[int]]) -> dict[str, Any]:
    """The kernels' formulas summed, with the stitched top's FIFOs (`resources.axis_fifos`) where
    the depths are known."""
    total = {"LUT": est["total"]["lut"], "FF": est["total"]["ff"], "BRAM18": est["total"]["bram18"], "DSP": 0}
    if depths is not None:
        f = resources.axis_fifos(spec, list(depths))
        total = {"LUT": total["LUT"] + f["lut"], "FF": total["FF"] + f["ff"], "BRAM18": total["BRAM18"] + f["bram18"],
                 "DSP": 0, "FIFO_LUT": f["lut"], "FIFO_BRAM18": f["bram18"]}
    return {**total, "source": ESTIMATE_SOURCE + (" with the FIFOs (axis_fifos)" if depths is not None else "")}


def synthesize_checkpoint(spec: Optional[AcceleratorSpec], checkpoint: Path, depths: Sequence[int], family: str,
                          cache_dir: Path, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """`synthesize_accelerator` for finn_build: `spec` the accelerator it measured (None: the
    checkpoint's default mapping, as `accel_report.evaluate` makes it)."""
    if spec is None:
        from ....checkpoint import load_model
        from .accelerator import map_model

        spec = map_model(load_model(checkpoint)[0])
    return synthesize_accelerator(spec, depths, cache_dir, family, progress=progress)


def summary_line(section: dict[str, Any]) -> str:
    """One line: the stitched top's synthesized figures (else the kernels' sum), the estimate beside."""
    whole = section.get("stitched", {})
    if "LUT" in whole:
        what, f = "stitched accelerator", whole
    else:
        s = section["sum_of_kernels"]
        what, f = f"sum of {s['kernels']} of {s['of']} kernels synthesized alone", s
    e = section["estimate_total"]
    deepest = max((k["synthesized"]["lut_levels"] for k in section["kernels"].values() if "synthesized" in k),
                  default=0)
    return (f"event-driven accelerator synthesized (Yosys, {section['family']}, out of context), {what}: "
            f"LUT {f['LUT']:,}, FF {f['FF']:,}, BRAM18 {f['BRAM18']} + BRAM36 {f['BRAM36']}, URAM {f['URAM']}, "
            f"DSP {f['DSP']}; deepest kernel {deepest} LUT levels (budget {section['lut_level_budget']}); "
            f"estimate LUT {e['LUT']:,}, FF {e['FF']:,}, BRAM18 {e['BRAM18']}")
