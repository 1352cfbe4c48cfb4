"""The shared Yosys harness: synthesis figures, elaboration, logic depth, caching."""

from __future__ import annotations

import pytest

from checks import require_tool
from toolchain.hw.rtl.tools import ToolMissing, yosys_command

MAC = """
module mac #(parameter int W = 8, parameter int DEPTH = 1024) (
  input  logic clk, input logic we, input logic [$clog2(DEPTH)-1:0] addr,
  input  logic signed [W-1:0] a, b, output logic signed [2*W+7:0] acc);
  (* ram_style = "block" *) logic [W-1:0] mem [DEPTH];
  logic [W-1:0] rd;
  always_ff @(posedge clk) begin
    if (we) mem[addr] <= a;
    rd <= mem[addr];
    acc <= acc + $signed(rd) * b;
  end
endmodule
"""

# N chained 6-input functions between two registers: N LUT levels.
CHAIN = """
module chain #(parameter int N = 3) (input logic clk, input logic [5*N+5:0] x, output logic y);
  logic [5*N+5:0] r;
  logic [N:0] s;
  always_ff @(posedge clk) r <= x;
  assign s[0] = ^r[5:0];
  for (genvar i = 0; i < N; i++) begin : g
    assign s[i+1] = (s[i] & r[5*i+6]) | (r[5*i+7] ^ r[5*i+8]) & ~(r[5*i+9] | r[5*i+10]);
  end
  always_ff @(posedge clk) y <= s[N];
endmodule
"""


@pytest.fixture(scope="module")
def yosys():
    try:
        yosys_command()
    except ToolMissing as exc:
        require_tool(str(exc))


def test_synthesis_counts_primitives_and_caches(yosys, tmp_path):
    from toolchain.hw.rtl.yosys import synthesize

    src = tmp_path / "mac.sv"
    src.write_text(MAC)
    cache = tmp_path / "cache"
    r = synthesize([src], "mac", params={"W": 8, "DEPTH": 4096}, cache_dir=cache)
    # 4096 x 8 bits = 32 kbit in block RAM, the 8x8 multiply-accumulate in one DSP
    assert (r.bram36, r.bram18, r.dsp, r.uram) == (1, 0, 1, 0)
    assert "IBUF" not in r.cells  # out of context: no I/O buffers
    assert r.as_dict()["source"].startswith("synthesized")
    assert len(list(cache.iterdir())) == 1
    src.write_text(MAC.replace('"block"', '"distributed"'))  # other RTL: not the cached result
    r2 = synthesize([src], "mac", params={"W": 8, "DEPTH": 256}, cache_dir=cache)
    assert r2.bram36 == 0 and r2.lutram > 0 and len(list(cache.iterdir())) == 2


def test_elaboration_lists_memories_with_their_style(yosys, tmp_path):
    from toolchain.hw.rtl.yosys import elaborate

    src = tmp_path / "mac.sv"
    src.write_text(MAC)
    e = elaborate([src], "mac", params={"W": 6, "DEPTH": 512})
    (mem,) = e.memories
    assert (mem.depth, mem.width, mem.attributes) == (512, 6, {"ram_style": "block"})
    assert e.cells["$mul"] == 1


@pytest.mark.parametrize("n", [4])
def test_lut_levels_follow_the_logic_depth(yosys, tmp_path, n):
    from toolchain.hw.rtl.yosys import synthesize

    src = tmp_path / "chain.sv"
    src.write_text(CHAIN)
    r = synthesize([src], "chain", params={"N": n})
    assert n <= r.lut_levels <= n + 1


def test_bad_rtl_is_one_line_naming_the_file(yosys, tmp_path):
    from toolchain.hw.rtl.yosys import YosysError, synthesize

    src = tmp_path / "broken.sv"
    src.write_text("module broken(input logic a, output logic y); assign y = a &; endmodule\n")
    with pytest.raises(YosysError, match="broken.sv") as info:
        synthesize([src], "broken")
    assert "\n" not in str(info.value)


ROM = """
module rom (input logic clk, input logic [5:0] a, output logic [7:0] q);
  logic [7:0] mem [64];
  initial $readmemh("rom.hex", mem);
  always_ff @(posedge clk) q <= mem[a];
endmodule
"""


def test_memory_init_files_travel_with_the_sources(yosys, tmp_path):
    """A $readmemh file named relative to the working folder comes in as `data`: its
    contents decide the logic (a ROM of zeros folds away); without it, one line naming it."""
    import numpy as np

    from toolchain.hw.rtl.yosys import YosysError, synthesize

    src = tmp_path / "rom.sv"
    src.write_text(ROM)
    hexfile = tmp_path / "rom.hex"
    hexfile.write_text("".join(f"{v:02x}\n" for v in np.random.default_rng(0).integers(0, 256, 64)))
    r = synthesize([src], "rom", data=[hexfile])
    assert r.lut >= 8 and r.ff == 8, r
    hexfile.write_text("00\n" * 64)
    assert synthesize([src], "rom", data=[hexfile]).lut == 0
    with pytest.raises(YosysError, match="rom.hex") as info:
        synthesize([src], "rom")
    assert "\n" not in str(info.value)
