"""The whole event-driven accelerator in C++: one dataflow top function chaining the kernels
through hls::stream (the code Vitis HLS would take), compiled with g++ against hls4ml's
ap_types and run on int I/Q sample streams with TLAST flags.

Python renders only glue (`render_sources`): a parameters header (integer weights, the
encoder's binning tables), one wrapper per layer declaring its memories with their storage
pragmas (`ram_style`), and the DATAFLOW top. `render_harness` adds a `main` that streams a file
of samples through the top until it is empty and writes, per frame, the class, the BAD flag,
the readout's final membranes and every kernel's loop iterations.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import ToolchainError
from .accelerator import AcceleratorSpec, ConvSpec, DenseSpec, EncoderSpec
from ...hls.gxx import compile_cached
from ..resources import fifo_storage, stream_widths

# The kernel headers, each beside its op (`#include "x.hpp"` by name: the folders go on the include path).
_HW = Path(__file__).parent
HEADERS = (_HW.parent / "lif" / "lif.hpp", _HW / "spike_stream.hpp", _HW / "axis_port.hpp",
           _HW / "encoder" / "constellation_encoder.hpp",
           _HW / "conv" / "spiking_conv.hpp", _HW / "readout" / "spiking_dense.hpp")
# -O2: unlike the LIF harness, this one runs millions of ap_int adds (compile ~6 s, runs much faster)
CXX_FLAGS = ("-O2", "-std=c++14", "-Wno-unused-variable")
STORAGE = {"distributed": "lutram", "block": "bram", "ultra": "uram"}
INCLUDES = ('#include "constellation_encoder.hpp"', '#include "spiking_conv.hpp"', '#include "spiking_dense.hpp"')
TOP = "snn_accelerator"


def _b(x: bool) -> str:
    return "true" if x else "false"


def _array(name: str, ctype: str, a: np.ndarray) -> str:
    dims = "".join(f"[{d}]" for d in a.shape)
    body = ",".join(str(int(v)) for v in a.reshape(-1))
    return f"static const {ctype} {name}{dims} = {{{body}}};\n"


def _conv_type(c: ConvSpec, layer: int) -> str:
    p = c.params
    return (f"spiking_conv<{c.height}, {c.width}, {c.cin}, {c.cout}, {c.kernel}, {c.in_lanes}, {c.sp}, "
            f"{c.weight_bits}, {c.acc_bits}, {p.state_bits}, {p.leak_shift}, {p.threshold}, "
            f"{_b(p.reset == 'zero')}, {p.refractory}, {layer}>")


def _storage(var: str, style: str, kind: str = "ram_s2p", latency: int | None = None) -> str:
    """A BIND_STORAGE pragma. The memories are read and written (one read port, one write port:
    `ram_s2p`, which distributed RAM has, unlike a true dual port's second write port), the
    readout's weights are a ROM read through one or two ports (`rom_1p` / `rom_2p`)."""
    if style not in STORAGE:
        raise ToolchainError(f"ram_style: expected one of {', '.join(STORAGE)}, got {style!r}")
    lat = "" if latency is None else f" latency={latency}"
    return f"#pragma HLS BIND_STORAGE variable={var} type={kind} impl={STORAGE[style]}{lat}\n"


@dataclass(frozen=True)
class LayerSource:
    """One kernel's C++ glue: its template typedef, its constant tables, and a wrapper function
    `<name>(in, out...)` declaring its memories with their storage pragmas."""

    name: str
    typedef: str
    tables: str
    wrapper: str
    streams: tuple[str, ...]  # word types: the input, then each output

    def source(self) -> str:
        return "\n".join([self.typedef, "", self.tables, self.wrapper])


def encoder_source(e: EncoderSpec) -> LayerSource:
    return LayerSource(
        "encoder",
        f"typedef constellation_encoder<{e.input_bits}, {e.resolution}, {e.group}, {e.frame}, {_b(e.binary)}, 0> "
        "encoder_t;",
        _array("ibin", "encoder_t::bin_t", e.ibin) + _array("qbin", "encoder_t::bin_t", e.qbin),
        "static void encoder(hls::stream<encoder_t::in_t> &in, hls::stream<encoder_t::out_word::type> &out) {\n"
        "    encoder_t::run(in, out, ibin, qbin);\n}\n",
        ("encoder_t::in_t", "encoder_t::out_word::type"))


def conv_source(c: ConvSpec, layer: int) -> LayerSource:
    t = f"{c.name}_t"
    wrapper = (
        f"static void {c.name}(hls::stream<{t}::in_word::type> &in, hls::stream<{t}::out_word::type> &out) {{\n"
        f"    // accumulators: K x K banks (by output row and column), CO per word\n"
        f"    static {t}::acc_mem acc;\n"
        f"#pragma HLS ARRAY_PARTITION variable=acc complete dim=1\n"
        f"#pragma HLS ARRAY_PARTITION variable=acc complete dim=2\n"
        f"#pragma HLS ARRAY_RESHAPE variable=acc complete dim=4\n"
        # read latency 1: the read-add-write spans two cycles, which the kernel's forwarding covers
        + _storage("acc", c.ram_style, latency=1) +
        f"    // membranes (and refractory counters): SP banks, CO per word\n"
        f"    static {t}::v_mem vmem;\n"
        f"    static {t}::r_mem rmem;\n"
        f"#pragma HLS ARRAY_PARTITION variable=vmem complete dim=1\n"
        f"#pragma HLS ARRAY_RESHAPE variable=vmem complete dim=3\n"
        f"#pragma HLS ARRAY_PARTITION variable=rmem complete dim=1\n"
        f"#pragma HLS ARRAY_RESHAPE variable=rmem complete dim=3\n"
        + _storage("vmem", c.state_ram_style) + _storage("rmem", c.state_ram_style) +
        f"#pragma HLS ARRAY_PARTITION variable={c.name}_w complete dim=1\n"
        f"#pragma HLS ARRAY_PARTITION variable={c.name}_w complete dim=2\n"
        f"#pragma HLS ARRAY_RESHAPE variable={c.name}_w complete dim=6\n"
        f"    {t}::run(in, out, {c.name}_w, acc, vmem, rmem);\n}}\n")
    return LayerSource(c.name, f"typedef {_conv_type(c, layer)} {t};",
                       _array(f"{c.name}_w", f"{t}::w_t", c.bank_weights()), wrapper,
                       (f"{t}::in_word::type", f"{t}::out_word::type"))


def dense_source(d: DenseSpec, layer: int) -> LayerSource:
    p = d.params
    t = f"{d.name}_t"
    typedef = (f"typedef spiking_dense<{d.positions}, {d.cin}, {d.in_lanes}, {d.outputs}, {d.weight_bits}, "
               f"{d.acc_bits}, {p.state_bits}, {p.leak_shift}, {p.threshold}, {_b(p.reset == 'zero')}, "
               f"{p.refractory}, {_b(d.membrane)}, {d.events_per_cycle}, {layer}> {t};")
    rom = "rom_2p" if d.events_per_cycle == 2 else "rom_1p"  # one port per weight row read a cycle
    wrapper = (f"static void {d.name}(hls::stream<{t}::in_word::type> &in, "
               f"hls::stream<{t}::class_word> &cls, hls::stream<{t}::membranes_t> &mem) {{\n"
               f"    // one ROM word = one weight row (all {d.outputs} outputs): a row per port and cycle\n"
               f"#pragma HLS ARRAY_RESHAPE variable={d.name}_w complete dim=2\n"
               + _storage(f"{d.name}_w", d.rom_style, rom) +
               f"    {t}::run(in, cls, mem, {d.name}_w);\n}}\n")
    return LayerSource(d.name, typedef, _array(f"{d.name}_w", f"{t}::w_t", d.weights), wrapper,
                       (f"{t}::in_word::type", f"{t}::class_word", f"{t}::membranes_t"))


def layer_sources(spec: AcceleratorSpec) -> list[LayerSource]:
    """The glue of every kernel, in stream order (encoder, convs, readout)."""
    return [encoder_source(spec.encoder), *(conv_source(c, i + 1) for i, c in enumerate(spec.convs)),
            dense_source(spec.dense, len(spec.convs) + 1)]


@dataclass(frozen=True)
class NodeInterface:
    """A kernel as its own HLS top function: FINN's stream names (in0_V, out0_V, out1_V) as AXI
    streams and no block control, as FINN's layers."""

    signature: str
    pragmas: list[str]
    call: str


def node_interface(src: LayerSource, top: str) -> NodeInterface:
    names = ("in0_V", "out0_V", "out1_V")[:len(src.streams)]
    ports = ", ".join(f"hls::stream<{t}> &{n}" for t, n in zip(src.streams, names))
    pragmas = [f"#pragma HLS INTERFACE axis port={n}" for n in names] + ["#pragma HLS INTERFACE ap_ctrl_none port=return"]
    return NodeInterface(f"void {top}({ports})", pragmas, f"{src.name}({', '.join(names)});")


def render_node_top(src: LayerSource, top: str) -> str:
    """One kernel as its own HLS top function `top` (a FINN node's `top_<node>.cpp`)."""
    i = node_interface(src, top)
    return "\n".join([*INCLUDES, "", src.source(), f"{i.signature} {{", *i.pragmas, f"    {i.call}", "}", ""])


def render_sources(spec: AcceleratorSpec, fifo_depths: dict[str, int] | None = None) -> str:
    """The top translation unit: parameters, per-layer wrappers and the dataflow top.
    `fifo_depths`: the depth of each kernel's output FIFO by kernel name (default 2), stored
    as `resources.fifo_storage` says (SRLs, or block RAM where that saves LUTs)."""
    d = spec.dense
    fifo_depths = fifo_depths or {}
    layers = layer_sources(spec)
    src = [*INCLUDES, ""]
    src += [s.typedef for s in layers] + [""]
    src += [s.tables for s in layers] + [s.wrapper for s in layers]
    names = [s.name for s in layers[:-1]]
    types = [s.streams[1] for s in layers[:-1]]
    # the external ports: I/Q samples and classes as AXI4-Stream words with TLAST (hls::axis)
    src.append(f"void {TOP}(hls::stream<encoder_t::in_t> &iq, hls::stream<{d.name}_t::class_word> &cls,\n"
               f"        hls::stream<{d.name}_t::membranes_t> &membranes) {{\n"
               "#pragma HLS INTERFACE axis port=iq\n#pragma HLS INTERFACE axis port=cls\n"
               "#pragma HLS INTERFACE axis port=membranes\n#pragma HLS INTERFACE ap_ctrl_none port=return\n"
               "#pragma HLS DATAFLOW")
    for name, t, width in zip(names, types, stream_widths(spec)):
        depth = fifo_depths.get(name, 2)
        src.append(f"    static hls::stream<{t}> {name}_out(\"{name}_out\");\n"
                   f"#pragma HLS STREAM variable={name}_out depth={depth}\n"
                   f"#pragma HLS BIND_STORAGE variable={name}_out type=fifo impl={fifo_storage(depth, width)}")
    src.append("    encoder(iq, encoder_out);")
    for prev, c in zip(names, spec.convs):
        src.append(f"    {c.name}({prev}_out, {c.name}_out);")
    src.append(f"    {d.name}({names[-1]}_out, cls, membranes);\n}}\n")
    return "\n".join(src)


_HLS_TCL = """open_project project_{top}
add_files {top}.cpp -cflags "-std=c++14 -I."
set_top {top}
open_solution sol1
set_part {part}
create_clock -period {clock_ns} -name default
csynth_design
exit 0
"""


def write_hls_project(spec: AcceleratorSpec, out_dir: str | os.PathLike, part: str, clock_ns: float,
                      fifo_depths: dict[str, int] | None = None) -> Path:
    """The top translation unit, the kernel headers and a Vitis HLS tcl (csynth only) in
    `out_dir`; returns the tcl. `vitis_hls -f <tcl>` in that folder writes
    project_<top>/sol1/syn/report/*csynth.xml."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for h in HEADERS:
        (out / h.name).write_text(h.read_text())
    (out / f"{TOP}.cpp").write_text(render_sources(spec, fifo_depths))
    tcl = out / f"hls_syn_{TOP}.tcl"
    tcl.write_text(_HLS_TCL.format(top=TOP, part=part, clock_ns=clock_ns))
    return tcl


_MAIN = """
#include <cstdio>
#include <vector>

// argv: samples (int8 I, Q pairs), last flags (uint8 per sample), output (int64 rows per frame:
// class, bad, NO membranes, one iteration count per kernel).
int main(int argc, char **argv) {
    if (argc != 4) { std::fprintf(stderr, "usage: %s SAMPLES LAST OUT\\n", argv[0]); return 2; }
    std::FILE *fs = std::fopen(argv[1], "rb"), *fl = std::fopen(argv[2], "rb");
    if (!fs || !fl) { std::fprintf(stderr, "cannot open the input files\\n"); return 1; }
    std::vector<signed char> s;
    std::vector<unsigned char> last;
    int c;
    while ((c = std::fgetc(fl)) != EOF) last.push_back((unsigned char)c);
    s.resize(2 * last.size());
    if (std::fread(s.data(), 1, s.size(), fs) != s.size()) { std::fprintf(stderr, "short samples file\\n"); return 1; }
    std::fclose(fs); std::fclose(fl);
    hls::stream<encoder_t::in_t> iq("iq");
    hls::stream<NO_CLASS_WORD> cls("cls");
    hls::stream<NO_MEM_T> mem("mem");
    for (size_t n = 0; n < last.size(); n++) {
        ap_uint<2 * IN_B> iq_data = 0;
        iq_data.range(IN_B - 1, 0) = ap_uint<IN_B>(ap_int<IN_B>(s[2 * n]));
        iq_data.range(2 * IN_B - 1, IN_B) = ap_uint<IN_B>(ap_int<IN_B>(s[2 * n + 1]));
        iq.write(snn::axis_word(iq_data, last[n] != 0));  // TLAST: the bus's sideband signal
    }
    std::vector<long long> rows;
    while (!iq.empty()) {
        snn::iteration_counters().assign(KERNELS, 0);
        TOP(iq, cls, mem);
        const std::vector<unsigned long long> &k = snn::iteration_counters();
        const NO_CLASS_WORD cword = cls.read();
        if (!cword.last) { std::fprintf(stderr, "class word without TLAST\\n"); return 1; }
        const NO_CLASS_T cw = cword.data;
        const NO_MEM_T m = mem.read();
        rows.push_back((cw & ((1u << CLASS_B) - 1)).to_int64());
        rows.push_back(cw[CLASS_B]);
        for (int o = 0; o < NO; o++) rows.push_back(ap_int<STATE_B>(m.range((o + 1) * STATE_B - 1, o * STATE_B)).to_int64());
        for (int i = 0; i < KERNELS; i++) rows.push_back((long long)k[i]);
    }
    std::FILE *fo = std::fopen(argv[3], "wb");
    if (!fo || std::fwrite(rows.data(), sizeof(long long), rows.size(), fo) != rows.size()) {
        std::fprintf(stderr, "cannot write %s\\n", argv[3]); return 1;
    }
    std::fclose(fo);
    return 0;
}
"""


def render_harness(spec: AcceleratorSpec) -> str:
    d = spec.dense
    defines = [f"#define TOP {TOP}", f"#define IN_B {spec.encoder.input_bits}", f"#define NO {d.outputs}",
               f"#define NO_CLASS_T {d.name}_t::class_t", f"#define NO_CLASS_WORD {d.name}_t::class_word",
               f"#define NO_MEM_T {d.name}_t::membranes_t",
               f"#define CLASS_B {d.name}_t::CLASS_BITS", f"#define STATE_B {d.params.state_bits}",
               f"#define KERNELS {len(spec.convs) + 2}"]
    return render_sources(spec) + "\n".join(defines) + "\n" + _MAIN


def compile_accelerator(spec: AcceleratorSpec, cache_dir: str | os.PathLike | None = None,
                        kernel_dir: str | os.PathLike | None = None) -> Path:
    """The C-simulation executable, cached by a hash of the source, the kernels and the flags.
    `kernel_dir`: headers to use instead of the shipped ones (the tests compile broken copies)."""
    headers = [Path(kernel_dir) / h.name for h in HEADERS] if kernel_dir is not None else list(HEADERS)
    return compile_cached(render_harness(spec), headers, "snn_accel", "the SNN accelerator", cache_dir)


@dataclass
class CsimResult:
    classes: np.ndarray  # (frames,)
    bad: np.ndarray  # (frames,) bool: the frame had not the expected length
    membranes: np.ndarray  # (frames, NO) the readout's final membranes
    iterations: dict[str, np.ndarray]  # kernel -> (frames,) II = 1 loop iterations


def run_stream(spec: AcceleratorSpec, samples: np.ndarray, last: np.ndarray, exe: str | os.PathLike | None = None,
               cache_dir: str | os.PathLike | None = None) -> CsimResult:
    """Samples (N, 2) int I/Q codes and TLAST flags (N,) through the accelerator; one result
    row per frame the hardware closes."""
    s = np.asarray(samples)
    lo, hi = -(1 << (spec.encoder.input_bits - 1)), (1 << (spec.encoder.input_bits - 1)) - 1
    if s.ndim != 2 or s.shape[1] != 2 or len(last) != len(s):
        raise ToolchainError(f"SNN accelerator C simulation: expected samples (N, 2) and N last flags, got "
                             f"{s.shape} and {np.shape(last)}")
    if s.size and (s.min() < lo or s.max() > hi):
        raise ToolchainError(f"SNN accelerator C simulation: I/Q codes in [{s.min()}, {s.max()}] do not fit "
                             f"INT{spec.encoder.input_bits}")
    exe = Path(exe) if exe is not None else compile_accelerator(spec, cache_dir)
    with tempfile.TemporaryDirectory(prefix="snn_accel_") as tmp:
        fs, fl, fo = (Path(tmp) / n for n in ("samples.bin", "last.bin", "out.bin"))
        s.astype(np.int8).tofile(fs)
        np.asarray(last, dtype=np.uint8).tofile(fl)
        res = subprocess.run([str(exe), str(fs), str(fl), str(fo)], capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"SNN accelerator C simulation {exe} failed: {res.stderr.strip() or res.returncode}")
        rows = np.fromfile(fo, dtype=np.int64)
    names = ["encoder"] + [c.name for c in spec.convs] + [spec.dense.name]
    rows = rows.reshape(-1, 2 + spec.dense.outputs + len(names))
    no = spec.dense.outputs
    return CsimResult(rows[:, 0], rows[:, 1].astype(bool), rows[:, 2:2 + no],
                      {n: rows[:, 2 + no + i] for i, n in enumerate(names)})


def run_frames(spec: AcceleratorSpec, codes: np.ndarray, **kw) -> CsimResult:
    """Whole frames (n, 2, L) of int I/Q codes (the layout of the model's input), TLAST on
    each frame's last sample."""
    n, _, length = codes.shape
    samples = codes.transpose(0, 2, 1).reshape(-1, 2)
    last = np.zeros((n, length), dtype=np.uint8)
    last[:, -1] = 1
    return run_stream(spec, samples, last.reshape(-1), **kw)
