// Verilator testbench of lif_neuron.sv: applies vectors from a file and writes the outputs.
// argv: IN (int64 rows of cur, v, r) OUT (int64 rows of v_next, r_next, spike) [VCD [FIRST LAST]]
// With a VCD path (a build with --trace) it dumps rows FIRST..LAST, one time unit per row, so
// a failing vector can be looked at in a waveform viewer. STATE_BITS comes as a -D define.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "Vlif_neuron.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

static int64_t sign_extend(uint64_t x, int bits) {
    const uint64_t m = uint64_t(1) << (bits - 1);
    x &= (m << 1) - 1;
    return int64_t((x ^ m) - m);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 6) {
        std::fprintf(stderr, "usage: %s IN OUT [VCD FIRST LAST]\n", argv[0]);
        return 2;
    }
    std::FILE *fi = std::fopen(argv[1], "rb");
    if (!fi) { std::fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
    std::vector<int64_t> in;
    int64_t buf[3];
    while (std::fread(buf, sizeof(int64_t), 3, fi) == 3) in.insert(in.end(), buf, buf + 3);
    std::fclose(fi);
    const long rows = long(in.size() / 3);
    long first = 0, last = -1;
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vlif_neuron>(ctx.get());
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (argc == 6) {
        first = std::atol(argv[4]);
        last = std::atol(argv[5]);
        ctx->traceEverOn(true);
        vcd = std::make_unique<VerilatedVcdC>();
        top->trace(vcd.get(), 99);
        vcd->open(argv[3]);
    }
#else
    if (argc == 6) { std::fprintf(stderr, "built without --trace: no waveform\n"); return 1; }
#endif
    std::vector<int64_t> out(rows * 3);
    for (long i = 0; i < rows; i++) {
        top->cur = in[3 * i];
        top->v = in[3 * i + 1];
        top->r = in[3 * i + 2];
        top->eval();
        out[3 * i] = sign_extend(uint64_t(top->v_next), STATE_BITS);
        out[3 * i + 1] = int64_t(top->r_next);
        out[3 * i + 2] = int64_t(top->spike);
#if VM_TRACE
        if (vcd && i >= first && i <= last) vcd->dump(uint64_t(i - first));
#endif
    }
#if VM_TRACE
    if (vcd) vcd->close();
#endif
    top->final();
    std::FILE *fo = std::fopen(argv[2], "wb");
    if (!fo || std::fwrite(out.data(), sizeof(int64_t), out.size(), fo) != out.size()) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    std::fclose(fo);
    return 0;
}
