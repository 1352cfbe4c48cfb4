// Verilator testbench of one streaming kernel through a top module named `stream_top`
// (toolchain/hw/rtl/stream.py; each kernel's rtl.py renders that top around it): ports clk, rst
// (synchronous, active high), s_tdata / s_tvalid / s_tready in, m_tdata / m_tvalid / m_tready out,
// words of any width (Verilator gives a word over 64 bits as VlWide, 32-bit limbs; the files hold
// each word as LIMBS 64-bit limbs, least significant first). It feeds the words of a file, with
// random gaps on the input and random back-pressure on the output, and records every output word
// with the cycle it left, until N_FRAMES words with bit FRAME_BIT set have left (or MAX_CYCLES).
// argv: IN OUT IN_LIMBS SEED GAP_PCT STALL_PCT FRAME_BIT N_FRAMES MAX_CYCLES [VCD FIRST LAST]
// OUT: per output word its limbs, then the cycle (uint64 each). stdout: one line of counters
// (cycles, gaps, stalls, ..., in_limbs, out_limbs).
// Built with -DSTREAM_PROBES=1, the top has an output `probes` (up to 64 flags) that is OR-ed
// over every cycle and printed with the counters (what a test asserts happened: a FIFO full...).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <type_traits>
#include <vector>

#include "verilated.h"
#include "Vstream_top.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

// 64-bit limbs of a port: 1 for the scalar types (CData .. QData), ceil(N / 2) for VlWide<N>
template <typename T> struct Limbs { static constexpr size_t n = 1; };
template <std::size_t N> struct Limbs<VlWide<N>> { static constexpr size_t n = (N + 1) / 2; };

template <typename T> void put(T &port, const uint64_t *w) { port = static_cast<T>(w[0]); }
template <std::size_t N> void put(VlWide<N> &port, const uint64_t *w) {
    for (std::size_t i = 0; i < N; i++) port[i] = static_cast<uint32_t>(w[i / 2] >> (32 * (i % 2)));
}
template <typename T> void get(const T &port, uint64_t *w) { w[0] = static_cast<uint64_t>(port); }
template <std::size_t N> void get(const VlWide<N> &port, uint64_t *w) {
    for (std::size_t i = 0; i < (N + 1) / 2; i++) w[i] = 0;
    for (std::size_t i = 0; i < N; i++) w[i / 2] |= static_cast<uint64_t>(port[i]) << (32 * (i % 2));
}

int main(int argc, char **argv) {
    if (argc != 10 && argc != 13) {
        std::fprintf(stderr, "usage: %s IN OUT IN_LIMBS SEED GAP_PCT STALL_PCT FRAME_BIT N_FRAMES MAX_CYCLES "
                     "[VCD FIRST LAST]\n", argv[0]);
        return 2;
    }
    using InT = std::remove_reference_t<decltype(Vstream_top::s_tdata)>;
    using OutT = std::remove_reference_t<decltype(Vstream_top::m_tdata)>;
    const size_t in_limbs = Limbs<InT>::n, out_limbs = Limbs<OutT>::n;
    if (std::strtoul(argv[3], nullptr, 10) != in_limbs) {
        std::fprintf(stderr, "input words of %s 64-bit limbs: s_tdata takes %zu\n", argv[3], in_limbs);
        return 2;
    }
    std::FILE *fi = std::fopen(argv[1], "rb");
    if (!fi) { std::fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
    std::vector<uint64_t> in;
    uint64_t limb;
    while (std::fread(&limb, sizeof limb, 1, fi) == 1) in.push_back(limb);
    std::fclose(fi);
    const size_t n_in = in.size() / in_limbs;
    const std::vector<uint64_t> zero(in_limbs, 0);
    std::vector<uint64_t> word(out_limbs);
    std::mt19937_64 rng(std::strtoull(argv[4], nullptr, 10));
    const unsigned gap_pct = std::atoi(argv[5]), stall_pct = std::atoi(argv[6]);
    const unsigned frame_bit = std::atoi(argv[7]);
    const long n_frames = std::atol(argv[8]);
    const long max_cycles = std::atol(argv[9]);
    long first = 0, last = -1;

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vstream_top>(ctx.get());
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (argc == 13) {
        first = std::atol(argv[11]);
        last = std::atol(argv[12]);
        ctx->traceEverOn(true);
        vcd = std::make_unique<VerilatedVcdC>();
        top->trace(vcd.get(), 99);
        vcd->open(argv[10]);
    }
#else
    if (argc == 13) { std::fprintf(stderr, "built without --trace: no waveform\n"); return 1; }
#endif
    std::vector<uint64_t> out;
    size_t next = 0;
    long frames = 0, cycle = 0, gaps = 0, stalls = 0, in_blocked = 0;
    unsigned long long probes = 0;
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
        const bool have = next < n_in;
        top->s_tvalid = have && !gap;
        put(top->s_tdata, have ? &in[next * in_limbs] : zero.data());
        const bool stall = stall_pct && (rng() % 100) < stall_pct;
        top->m_tready = !stall;
        top->eval();
        const bool in_fire = top->s_tvalid && top->s_tready;
        const bool out_fire = top->m_tvalid && top->m_tready;
        if (have && gap) gaps++;
        if (top->m_tvalid && stall) stalls++;
        if (top->s_tvalid && !top->s_tready) in_blocked++;
        if (out_fire) {
            get(top->m_tdata, word.data());
            out.insert(out.end(), word.begin(), word.end());
            out.push_back(uint64_t(cycle));
            if ((word[frame_bit / 64] >> (frame_bit % 64)) & 1) frames++;
        }
        if (in_fire) next++;
#if STREAM_PROBES
        probes |= uint64_t(top->probes);
#endif
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
    std::printf("cycles %ld frames %ld consumed %zu of %zu in_gaps %ld out_stalls %ld in_blocked %ld probes %llu "
                "in_limbs %zu out_limbs %zu\n", cycle, frames, next, n_in, gaps, stalls, in_blocked, probes, in_limbs,
                out_limbs);
    return 0;
}
