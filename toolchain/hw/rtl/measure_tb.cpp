// Verilator testbench that measures a streaming design at full rate (toolchain/hw/rtl/measure.py):
// input valid every cycle while words remain, output always ready, no gaps, no stalls. The top
// `measure_top` has the stream ports of stream_tb.cpp (s_tdata / s_tvalid / s_tready in, m_tdata /
// m_tvalid / m_tready out, each word at most 64 bits) plus `marks` (64 flags) and `values` (one
// 32-bit value per mark, NV of them): in every cycle a mark is set, the testbench records (mark,
// cycle, its value); at the end it records every value once more as mark 64 + i (cycle -1), e.g.
// a FIFO's highest occupancy. It stops after N_FRAMES output words with bit FRAME_BIT set (or
// MAX_CYCLES).
// argv: IN OUT FRAME_BIT N_FRAMES MAX_CYCLES. OUT: (mark, cycle, value) as three int64 per record.
// stdout: one line of counters (cycles, frames, consumed, in_blocked); stderr: "frames K" every 64 frames.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "verilated.h"
#include "Vmeasure_top.h"

template <typename T> uint32_t word(const T &port, size_t i) { return static_cast<uint32_t>(uint64_t(port) >> (32 * i)); }
template <std::size_t N> uint32_t word(const VlWide<N> &port, size_t i) { return port[i]; }

int main(int argc, char **argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s IN OUT FRAME_BIT N_FRAMES MAX_CYCLES\n", argv[0]);
        return 2;
    }
    std::FILE *fi = std::fopen(argv[1], "rb");
    if (!fi) { std::fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
    std::vector<uint64_t> in;
    uint64_t w;
    while (std::fread(&w, sizeof w, 1, fi) == 1) in.push_back(w);
    std::fclose(fi);
    const unsigned frame_bit = std::atoi(argv[3]);
    const long n_frames = std::atol(argv[4]), max_cycles = std::atol(argv[5]);
    constexpr size_t NV = sizeof(Vmeasure_top::values) / 4;

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vmeasure_top>(ctx.get());
    std::vector<int64_t> rec;
    size_t next = 0;
    long frames = 0, cycle = 0, in_blocked = 0;
    top->clk = 0;
    top->rst = 1;
    top->s_tvalid = 0;
    top->m_tready = 0;
    for (int i = 0; i < 4; i++) {  // reset
        top->clk = !top->clk;
        top->eval();
    }
    top->rst = 0;
    top->m_tready = 1;
    while (frames < n_frames && cycle < max_cycles) {
        const bool have = next < in.size();
        top->s_tvalid = have;
        top->s_tdata = have ? in[next] : 0;
        top->eval();
        if (top->s_tvalid && top->s_tready) next++;
        else if (top->s_tvalid) in_blocked++;
        if (top->m_tvalid && ((uint64_t(top->m_tdata) >> frame_bit) & 1) && ++frames % 64 == 0) {
            std::fprintf(stderr, "frames %ld\n", frames);  // progress (measure.py's bar)
            std::fflush(stderr);
        }
        for (uint64_t m = top->marks; m; m &= m - 1) {
            const int i = __builtin_ctzll(m);
            rec.insert(rec.end(), {i, cycle, int64_t(i < int(NV) ? word(top->values, i) : 0)});
        }
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
        cycle++;
    }
    for (size_t i = 0; i < NV; i++) rec.insert(rec.end(), {int64_t(64 + i), -1, int64_t(word(top->values, i))});
    top->final();
    std::FILE *fo = std::fopen(argv[2], "wb");
    if (!fo || std::fwrite(rec.data(), sizeof(int64_t), rec.size(), fo) != rec.size()) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    std::fclose(fo);
    std::printf("cycles %ld frames %ld consumed %zu of %zu in_blocked %ld\n", cycle, frames, next, in.size(),
                in_blocked);
    return 0;
}
