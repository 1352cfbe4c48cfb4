"""The generated RTL of a FINN layer, made readable by Yosys' slang front end.

After `step_hw_codegen` every RTL layer has its wrapper in its code generation folder and its
modules in finn-rtllib (inside the finn-plus wheel). `layer_units` lists what one layer is in
hardware: its core (e.g. the MVAU wrapper) and, for an MVAU with decoupled weights, the weight
streamer FINN places beside it. `prepare` copies a unit's files into a folder with the few
source fixes Yosys needs (the installed package is never touched) and writes declarations of the
Xilinx primitives the RTL instantiates as blackboxes, so that they stay countable cells.

The fixes (each a textual edit of a copy; a file that no longer matches fails loudly):
- `mvu.sv`, `mvu_vvu_8sx9_dsp58.sv`: a simulation-only start-up watchdog (`#100ns` in an
  initial block, then a non-blocking assignment) that Yosys cannot elaborate;
- `add_multi.sv`: a constant function declared inside a generate block, called in a constant
  expression (slang in Yosys refuses it): moved to module scope;
- `thresholding.sv`: a part-select that is reversed in the first stage (`p.ptr[M-1:SN+1]` with
  SN = M-1), written as the same bits shifted and masked; read-only threshold memories styled
  "distributed" (LUTs to Vivado) styled "logic", Yosys' word for it (its LUTRAM needs a write port);
- every file: `default_nettype` directives inside module bodies.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...errors import ToolchainError

# Primitives FINN's RTL instantiates itself; kept as blackbox cells so that they can be counted.
PRIMITIVES = ("DSP48E1", "DSP48E2", "DSP58", "LUT6_2")
SLANG_ARGS = ("--ignore-assertions", "--allow-use-before-declare")
# FINN writes RAM_STYLE in capitals; Yosys' memory mapping reads ram_style.
PRE_SYNTH = ("attrmap -tocase ram_style -tocase rom_style",)


@dataclass
class Unit:
    """One synthesizable top of a layer: its files (wrapper first) and memory init files."""

    layer: str  # node name
    top: str
    sources: list[Path]
    data: list[Path] = field(default_factory=list)


def _settings():
    from finn.util.settings import get_settings

    return get_settings()


def layer_units(inst) -> list[Unit]:
    """The RTL tops of one code-generated RTL layer."""
    name = inst.onnx_node.name
    gen = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
    if not gen.is_dir():
        raise ToolchainError(f"{name}: no generated code in {gen} (run step_hw_codegen first)")
    listed = list(dict.fromkeys(Path(f) for f in inst.get_rtl_file_list(abspath=True)))
    # the project's event-driven ops list their $readmemh ROMs (.hex) and name their wrapper <node>_wrapper.sv
    files = [f for f in listed if f.suffix in (".v", ".sv", ".vh", ".svh")]
    wrapper = next((f for f in files if f.parent == gen and (f.suffix == ".v" or f.stem == f"{name}_wrapper")),
                   files[0])
    top = re.search(r"^\s*module\s+(\w+)", wrapper.read_text(), re.M).group(1)
    data = sorted({*(p for p in gen.iterdir() if p.suffix == ".dat"), *(f for f in listed if f not in files)})
    units = [Unit(name, top, files, data)]
    streamer = sorted(gen.glob("*_memstream_wrapper.v"))
    if streamer and "mem_mode" in inst.get_nodeattr_types() and inst.get_nodeattr("mem_mode") == "internal_decoupled":
        lib = Path(_settings().finn_rtllib)
        units.append(Unit(name, streamer[0].stem, [streamer[0], lib / "axi/hdl/axilite.sv",
                                                   lib / "memstream/hdl/memstream_axi.sv",
                                                   lib / "memstream/hdl/memstream.sv"], data))
    return units


def _fix_watchdog(text: str) -> str:
    return _sub(r"initial begin\s*#100ns;\s*Dirty <= 0;\s*end", "", text, "the #100ns start-up watchdog")


def _fix_add_multi(text: str) -> str:
    block = re.search(r"\n[ \t]*// Compute the count of decendents.*?endfunction : init_leaf_loads\n", text, re.S)
    anchor = re.search(r"localparam int unsigned\s+L = \$clog2\(N\);[^\n]*\n", text)
    if block is None or anchor is None:
        raise ToolchainError("add_multi.sv: the generate-block function to move was not found (finn-rtllib changed)")
    text = text.replace(block.group(0), "\n")
    anchor = re.search(r"localparam int unsigned\s+L = \$clog2\(N\);[^\n]*\n", text)
    return text[:anchor.end()] + block.group(0) + text[anchor.end():]


def _fix_thresholding(text: str) -> str:
    # ptr[M-1:SN+1] is reversed at stage 0 (SN = M-1); the same bits, shifted and masked, are not
    text = _sub(r"p\.ptr\[M-1:SN\+1\] < 2\*\*stage - SCOPE_REDUCE",
                "((p.ptr >> (SN+1)) & (2**stage - 1)) < 2**stage - SCOPE_REDUCE", text, "the reversed ptr select")
    # without AXI-lite the thresholds are ROMs: "distributed" means LUTs to Vivado, but Yosys' LUTRAM
    # needs a write port (no valid mapping); "logic" is Yosys' name for LUTs
    return _sub(r'DEPTH_TRIGGER_BRAM\? "distributed" : "auto"',
                'DEPTH_TRIGGER_BRAM? (USE_CONFIG? "distributed" : "logic") : "auto"', text,
                "the distributed threshold style")


FIXES: dict[str, Callable[[str], str]] = {
    "mvu.sv": _fix_watchdog, "mvu_vvu_8sx9_dsp58.sv": _fix_watchdog, "add_multi.sv": _fix_add_multi,
    "thresholding.sv": _fix_thresholding,
}


def _sub(pattern: str, repl: str, text: str, what: str) -> str:
    out, n = re.subn(pattern, repl, text)
    if n == 0:
        raise ToolchainError(f"finn-rtllib source fix not applicable: {what} not found (finn-rtllib changed)")
    return out


def stubs(texts: list[str]) -> str:
    """Blackbox declarations of the primitives instantiated in `texts`, with the parameters and
    ports the instances name (directions by Xilinx' naming: P, *OUT, O5/O6, flags are outputs)."""
    body = re.sub(r"//[^\n]*", "", "\n".join(texts))
    out = []
    for prim in PRIMITIVES:
        params, ports = set(), set()
        for m in re.finditer(r"\b%s\s*#\s*\((.*?)\)\s*\w+\s*\((.*?)\);" % prim, body, re.S):
            params |= set(re.findall(r"\.(\w+)\s*\(", m.group(1)))
            ports |= set(re.findall(r"\.(\w+)\s*\(", m.group(2)))
        if not ports:
            continue

        def direction(p: str) -> str:
            is_out = p == "P" or p.endswith("OUT") or re.fullmatch(r"O\d*", p) or p in (
                "OVERFLOW", "UNDERFLOW", "PATTERNDETECT", "PATTERNBDETECT", "XOROUT")
            return "output" if is_out else "input"

        decl_p = ",\n".join(f"  parameter {p} = 0" for p in sorted(params))
        decl_io = ",\n".join(f"  {direction(p)} wire [63:0] {p}" for p in sorted(ports))
        out.append(f"(* blackbox *)\nmodule {prim} #(\n{decl_p}\n) (\n{decl_io}\n);\nendmodule\n")
    return "\n".join(out)


def prepare(unit: Unit, folder: Path) -> list[Path]:
    """Copies of the unit's sources with the fixes and a stub file; its init files beside them
    under their own names (the wrapper's absolute paths made relative to the Yosys working
    directory). Returns the source list, stubs first."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = str(unit.sources[0].parent)
    out, texts = [], []
    for src in unit.sources:
        text = src.read_text()
        text = re.sub(r"^\s*`default_nettype\s+\w+\s*$", "", text, flags=re.M)
        text = text.replace(gen + "/", "").replace(gen, "")  # init files: relative to Yosys' folder
        text = FIXES.get(src.name, lambda t: t)(text)
        dest = folder / src.name
        dest.write_text(text)
        out.append(dest)
        texts.append(text)
    for dat in unit.data:
        shutil.copyfile(dat, folder / dat.name)
    stub = folder / "primitives_stub.v"
    stub.write_text(stubs(texts))
    return [stub, *out]
