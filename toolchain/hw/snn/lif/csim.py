"""C simulation of the LIF kernel (`lif.hpp`) with g++ and the ap_types shipped in hls4ml
(`toolchain.hw.hls.gxx`: no Xilinx install is needed). Python renders only the glue:
`render_top` is the HLS top function (the same text the FINN op writes as `top_<node>.cpp` for
Vitis HLS), `render_harness` adds a `main` that streams int64 currents from a file through it,
frame by frame. Binaries are cached by a hash of everything that goes into them, so a test
suite compiles each parameter set once.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import ToolchainError
from ....snn.lif import LIFParams
from ...hls.gxx import compile_cached

KERNEL = Path(__file__).with_name("lif.hpp")
AP_INT_DEFAULT_MAX_W = 1024  # ap_common.h's default; wider stream words need AP_INT_MAX_W


@dataclass(frozen=True)
class KernelConfig:
    """The template arguments of one `lif_layer` instance."""

    neurons: int  # per time step (H * W * C)
    pe: int
    time_steps: int
    in_bits: int
    in_signed: bool
    params: LIFParams
    readout: bool = False  # leaky integrator (li_step): streams the membrane, never fires

    def __post_init__(self) -> None:
        if self.pe < 1 or self.neurons % self.pe:
            raise ToolchainError(f"LIF kernel: PE={self.pe} must divide the {self.neurons} neurons per step")
        if self.time_steps < 1:
            raise ToolchainError(f"LIF kernel: time_steps must be >= 1, got {self.time_steps}")
        if not 1 <= self.in_bits <= 64:
            raise ToolchainError(f"LIF kernel: input width must be 1..64 bits, got {self.in_bits}")

    @property
    def out_bits(self) -> int:
        return self.params.state_bits if self.readout else 1

    @property
    def in_width(self) -> int:
        return self.pe * self.in_bits

    @property
    def out_width(self) -> int:
        return self.pe * self.out_bits

    def template_args(self) -> str:
        p = self.params
        b = lambda x: "true" if x else "false"  # noqa: E731
        return (f"{self.neurons}, {self.pe}, {self.time_steps}, {self.in_bits}, {b(self.in_signed)}, "
                f"{p.state_bits}, {p.leak_shift}, {p.threshold}, {b(p.reset == 'zero')}, "
                f"{p.refractory}, {b(self.readout)}")


def render_top(cfg: KernelConfig, top_name: str) -> str:
    """The HLS top function: FINN's stream names (in0_V, out0_V) as AXI streams, and no block
    control (ap_ctrl_none), as every FINN dataflow layer; one call = one frame of T steps."""
    lines = []
    max_w = max(cfg.in_width, cfg.out_width)
    if max_w > AP_INT_DEFAULT_MAX_W:
        lines.append(f"#define AP_INT_MAX_W {max_w}")
    lines += [
        '#include "lif.hpp"',
        "",
        f"void {top_name}(hls::stream<ap_uint<{cfg.in_width}> > &in0_V,",
        f"    hls::stream<ap_uint<{cfg.out_width}> > &out0_V) {{",
        "#pragma HLS INTERFACE axis port=in0_V",
        "#pragma HLS INTERFACE axis port=out0_V",
        "#pragma HLS INTERFACE ap_ctrl_none port=return",
        f"    lif_layer<{cfg.template_args()}>(in0_V, out0_V);",
        "}",
        "",
    ]
    return "\n".join(lines)


_MAIN = """
#include <cstdio>
#include <cstdlib>
#include <vector>

// argv: currents (int64, frames x T x NEURONS), output file (int64, same count), frames.
int main(int argc, char **argv) {
    if (argc != 4) { std::fprintf(stderr, "usage: %s IN OUT FRAMES\\n", argv[0]); return 2; }
    const long frames = std::atol(argv[3]);
    const long per_frame = (long)T_STEPS * NEURONS;
    std::vector<long long> x(frames * per_frame), y(frames * per_frame);
    std::FILE *fi = std::fopen(argv[1], "rb");
    if (!fi || std::fread(x.data(), sizeof(long long), x.size(), fi) != x.size()) {
        std::fprintf(stderr, "cannot read %ld values from %s\\n", (long)x.size(), argv[1]); return 1;
    }
    std::fclose(fi);
    for (long f = 0; f < frames; f++) {
        hls::stream<ap_uint<IN_W> > in0_V("in0_V");
        hls::stream<ap_uint<OUT_W> > out0_V("out0_V");
        const long long *xf = x.data() + f * per_frame;
        for (long w = 0; w < per_frame / PE_N; w++) {
            ap_uint<IN_W> word = 0;
            for (int p = 0; p < PE_N; p++)
                word.range((p + 1) * IN_B - 1, p * IN_B) = ap_uint<IN_B>(xf[w * PE_N + p]);
            in0_V.write(word);
        }
        TOP(in0_V, out0_V);
        long long *yf = y.data() + f * per_frame;
        for (long w = 0; w < per_frame / PE_N; w++) {
            const ap_uint<OUT_W> word = out0_V.read();
            for (int p = 0; p < PE_N; p++) {
                ap_int<OUT_B + 1> lane = 0;  // one bit wider: a 1-bit spike stays 0/1
                lane = OUT_SIGNED ? ap_int<OUT_B + 1>(ap_int<OUT_B>(word.range((p + 1) * OUT_B - 1, p * OUT_B)))
                                  : ap_int<OUT_B + 1>(ap_uint<OUT_B>(word.range((p + 1) * OUT_B - 1, p * OUT_B)));
                yf[w * PE_N + p] = lane.to_int64();
            }
        }
        if (!in0_V.empty() || !out0_V.empty()) { std::fprintf(stderr, "stream not drained\\n"); return 1; }
    }
    std::FILE *fo = std::fopen(argv[2], "wb");
    if (!fo || std::fwrite(y.data(), sizeof(long long), y.size(), fo) != y.size()) {
        std::fprintf(stderr, "cannot write %s\\n", argv[2]); return 1;
    }
    std::fclose(fo);
    return 0;
}
"""


def render_harness(cfg: KernelConfig, top_name: str = "lif_top") -> str:
    """`render_top` plus a main that runs it on a file of currents (the C simulation)."""
    defines = [
        f"#define TOP {top_name}", f"#define T_STEPS {cfg.time_steps}", f"#define NEURONS {cfg.neurons}",
        f"#define PE_N {cfg.pe}", f"#define IN_B {cfg.in_bits}", f"#define OUT_B {cfg.out_bits}",
        f"#define IN_W {cfg.in_width}", f"#define OUT_W {cfg.out_width}",
        f"#define OUT_SIGNED {'true' if cfg.readout else 'false'}",
    ]
    return render_top(cfg, top_name) + "\n".join(defines) + "\n" + _MAIN


def compile_harness(cfg: KernelConfig, cache_dir: str | os.PathLike | None = None) -> Path:
    """The C-simulation executable for `cfg`, compiled once per (harness, kernel, flags)."""
    return compile_cached(render_harness(cfg), [KERNEL], "lif", "the LIF kernel", cache_dir)


def run_csim(currents: np.ndarray, cfg: KernelConfig, cache_dir: str | os.PathLike | None = None,
             exe: str | os.PathLike | None = None) -> np.ndarray:
    """Run the kernel on integer currents shaped (frames * T, neurons) (or (frames * T, ...)
    with neurons = the product of the trailing dims); returns int64 spikes (0/1) or membranes
    in the same shape. The state starts from zero at every T-th row, as in one kernel call."""
    x = np.asarray(currents)
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ToolchainError("LIF C simulation: the currents must be integers")
    x = x.astype(np.int64)
    rows = x.shape[0]
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != cfg.neurons or rows % cfg.time_steps:
        raise ToolchainError(f"LIF C simulation: expected currents (frames * {cfg.time_steps}, "
                             f"{cfg.neurons} neurons), got {x.shape}")
    lo, hi = ((-(1 << (cfg.in_bits - 1)), (1 << (cfg.in_bits - 1)) - 1) if cfg.in_signed
              else (0, (1 << cfg.in_bits) - 1))
    if x.size and (x.min() < lo or x.max() > hi):
        sign = "INT" if cfg.in_signed else "UINT"
        raise ToolchainError(f"LIF C simulation: currents in [{x.min()}, {x.max()}] do not fit {sign}{cfg.in_bits}")
    exe = Path(exe) if exe is not None else compile_harness(cfg, cache_dir)
    with tempfile.TemporaryDirectory(prefix="lif_csim_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        np.ascontiguousarray(x).tofile(fin)
        res = subprocess.run([str(exe), str(fin), str(fout), str(rows // cfg.time_steps)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"LIF C simulation {exe} failed: {res.stderr.strip() or res.returncode}")
        y = np.fromfile(fout, dtype=np.int64)
    return y.reshape(x.shape)
