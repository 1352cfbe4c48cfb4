// Verilator testbench of one streaming kernel through a top module named `stream_top`
// (toolchain/hw/rtl/stream.py; each kernel's rtl.py renders that top around it): ports clk, rst (synchronous, active high), s_tdata / s_tvalid / s_tready in, m_tdata /
// m_tvalid / m_tready out, words of at most 64 bits. It feeds the words of a file, with random
// gaps on the input and random back-pressure on the output, and records every output word with
// the cycle it left, until N_FRAMES words with bit FRAME_BIT set have left (or MAX_CYCLES).
// argv: IN OUT SEED GAP_PCT STALL_PCT FRAME_BIT N_FRAMES MAX_CYCLES [VCD FIRST LAST]
// OUT: uint64 pairs (word, cycle). stdout: one line of counters (cycles, gaps, stalls, ...).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "verilated.h"
#include "Vstream_top.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

int main(int argc, char **argv) {
    if (argc != 9 && argc != 12) {
        std::fprintf(stderr, "usage: %s IN OUT SEED GAP_PCT STALL_PCT FRAME_BIT N_FRAMES MAX_CYCLES [VCD FIRST LAST]\n",
                     argv[0]);
        return 2;
    }
    std::FILE *fi = std::fopen(argv[1], "rb");
    if (!fi) { std::fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
    std::vector<uint64_t> in;
    uint64_t word;
    while (std::fread(&word, sizeof word, 1, fi) == 1) in.push_back(word);
    std::fclose(fi);
    std::mt19937_64 rng(std::strtoull(argv[3], nullptr, 10));
    const unsigned gap_pct = std::atoi(argv[4]), stall_pct = std::atoi(argv[5]);
    const unsigned frame_bit = std::atoi(argv[6]);
    const long n_frames = std::atol(argv[7]);
    const long max_cycles = std::atol(argv[8]);
    long first = 0, last = -1;

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vstream_top>(ctx.get());
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (argc == 12) {
        first = std::atol(argv[10]);
        last = std::atol(argv[11]);
        ctx->traceEverOn(true);
        vcd = std::make_unique<VerilatedVcdC>();
        top->trace(vcd.get(), 99);
        vcd->open(argv[9]);
    }
#else
    if (argc == 12) { std::fprintf(stderr, "built without --trace: no waveform\n"); return 1; }
#endif
    std::vector<uint64_t> out;
    size_t next = 0;
    long frames = 0, cycle = 0, gaps = 0, stalls = 0, in_blocked = 0;
    top->clk = 0;
    top->rst = 1;
    top->s_tvalid = 0;
    top->m_tready = 0;
    for (int i = 0; i < 4; i++) {  // reset
        top->clk = !top->clk;
        top->eval();
    }
    top->rst = 0;
    while (frames < n_frames && cycle < max_cycles) {
        // drive the inputs of this cycle (the clock is low)
        const bool gap = gap_pct && (rng() % 100) < gap_pct;
        const bool have = next < in.size();
        top->s_tvalid = have && !gap;
        top->s_tdata = have ? in[next] : 0;
        const bool stall = stall_pct && (rng() % 100) < stall_pct;
        top->m_tready = !stall;
        top->eval();
        const bool in_fire = top->s_tvalid && top->s_tready;
        const bool out_fire = top->m_tvalid && top->m_tready;
        if (have && gap) gaps++;
        if (top->m_tvalid && stall) stalls++;
        if (top->s_tvalid && !top->s_tready) in_blocked++;
        if (out_fire) {
            const uint64_t w = uint64_t(top->m_tdata);
            out.push_back(w);
            out.push_back(uint64_t(cycle));
            if ((w >> frame_bit) & 1) frames++;
        }
        if (in_fire) next++;
#if VM_TRACE
        if (vcd && cycle >= first && cycle <= last) vcd->dump(uint64_t(2 * cycle));
#endif
        top->clk = 1;  // rising edge
        top->eval();
#if VM_TRACE
        if (vcd && cycle >= first && cycle <= last) vcd->dump(uint64_t(2 * cycle + 1));
#endif
        top->clk = 0;
        top->eval();
        cycle++;
    }
#if VM_TRACE
    if (vcd) vcd->close();
#endif
    top->final();
    std::FILE *fo = std::fopen(argv[2], "wb");
    if (!fo || std::fwrite(out.data(), sizeof(uint64_t), out.size(), fo) != out.size()) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    std::fclose(fo);
    std::printf("cycles %ld frames %ld consumed %zu of %zu in_gaps %ld out_stalls %ld in_blocked %ld\n", cycle, frames,
                next, in.size(), gaps, stalls, in_blocked);
    return 0;
}
