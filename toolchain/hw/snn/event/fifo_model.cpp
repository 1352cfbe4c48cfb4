// The cycle loop of the FIFO model (accel_fifo.py): the event-driven kernels run concurrently,
// each one II = 1 loop iteration per cycle when the word it pops is there and its output can
// take what it pushes; a word written into a FIFO in a cycle can be popped from the next one on,
// and a pop frees its slot from the next cycle on (axis_fifo.sv). In C++ because a test split is
// millions of cycles per run and the depth search runs the frames some 25 times.
//
// How a kernel's push reaches its FIFO is its MODE (accel_fifo.KernelTiming):
//   0 direct: the iteration writes the FIFO itself and waits while it is full (the HLS loops);
//   1 register: the iteration loads an output register, drained into the FIFO while it has
//     room; every iteration, pushing or not, waits while the register is full and the FIFO
//     too (constellation_encoder.sv's can_emit);
//   2 pipeline: the iteration enters STAGES register stages, then the output register, with a
//     skid register beside it that takes the word the full output refuses; the stages move only
//     while the skid is empty (spiking_conv.sv's adv).
// A kernel iterates from cycle START on (the conv's reset clear).
//
// argv: SCHEDULE MARKS N L_0 ... L_{N-1} (MODE STAGES START) x N. SCHEDULE holds one byte per
// iteration (bit 0: pops its input FIFO, bit 1: pushes its output, bit 2: marked), the N
// kernels' L_k iterations one kernel after the other. stdin: one line of N - 1 FIFO depths per
// run, led by "m" where the marked iterations' cycles are wanted; stdout: one line per run with
// the cycles until every kernel has finished and the most words each FIFO held. MARKS: the
// marked runs' (kernel, cycle) records, two int64 each.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

struct Kernel {
    long long start_it, end_it, start_cycle;
    int mode, stages;
    long long pos;
    bool out_valid, skid;
    std::vector<unsigned char> pipe;  // ring of STAGES ops: 1 = a word to push
    int head;
};

int main(int argc, char **argv) {
    if (argc < 4) { std::fprintf(stderr, "usage: %s SCHEDULE MARKS N L_0 ... (MODE STAGES START) ...\n", argv[0]); return 2; }
    const int n = std::atoi(argv[3]);
    if (n < 2 || argc != 4 + 4 * n) { std::fprintf(stderr, "expected N >= 2 kernels, N lengths, N timings\n"); return 2; }
    std::vector<Kernel> ks(n);
    long long total = 0;
    for (int k = 0; k < n; k++) {
        ks[k].start_it = total;
        total += std::atoll(argv[4 + k]);
        ks[k].end_it = total;
        ks[k].mode = std::atoi(argv[4 + n + 3 * k]);
        ks[k].stages = std::atoi(argv[5 + n + 3 * k]);
        ks[k].start_cycle = std::atoll(argv[6 + n + 3 * k]);
        if (ks[k].mode < 0 || ks[k].mode > 2 || (ks[k].mode == 2 && ks[k].stages < 1) || (k == n - 1 && ks[k].mode)) {
            std::fprintf(stderr, "kernel %d: mode %d with %d stages (the last kernel: mode 0)\n", k, ks[k].mode,
                         ks[k].stages);
            return 2;
        }
    }
    std::vector<unsigned char> s(total);
    std::FILE *f = std::fopen(argv[1], "rb");
    if (!f || std::fread(s.data(), 1, s.size(), f) != s.size()) {
        std::fprintf(stderr, "cannot read %lld schedule bytes from %s\n", total, argv[1]);
        return 1;
    }
    std::fclose(f);
    std::FILE *fm = nullptr;
    std::vector<long long> depth(n - 1), occ(n - 1), snap(n - 1), peak(n - 1);
    char tok[32];
    for (;;) {
        bool marks = false;
        for (int k = 0; k < n - 1; k++) {
            if (std::scanf("%31s", tok) != 1) return 0;
            if (k == 0 && std::strcmp(tok, "m") == 0) {
                marks = true;
                if (std::scanf("%31s", tok) != 1) return 0;
            }
            depth[k] = std::atoll(tok);
        }
        if (marks && !fm && !(fm = std::fopen(argv[2], "wb"))) {
            std::fprintf(stderr, "cannot write %s\n", argv[2]);
            return 1;
        }
        for (auto &kn : ks) {
            kn.pos = kn.start_it;
            kn.out_valid = kn.skid = false;
            kn.pipe.assign(kn.mode == 2 ? kn.stages : 0, 0);
            kn.head = 0;
        }
        occ.assign(n - 1, 0);
        peak.assign(n - 1, 0);
        long long cycle = 0, idle = 0;
        int running = 0;
        for (auto &kn : ks) running += kn.pos < kn.end_it;
        while (running > 0) {
            snap = occ;  // this cycle's decisions see the FIFOs as they were at its start (registers)
            bool issued = false;
            for (int k = 0; k < n; k++) {
                Kernel &kn = ks[k];
                const bool room = k < n - 1 && snap[k] < depth[k];  // the output FIFO's s_tready
                bool can_issue = true;
                const int last = kn.head == 0 ? kn.stages - 1 : kn.head - 1;  // mode 2: the oldest stage
                if (kn.mode == 1) {
                    const bool can_emit = !kn.out_valid || room;
                    if (kn.out_valid && room) { occ[k]++; kn.out_valid = false; }
                    can_issue = can_emit;
                } else if (kn.mode == 2) {
                    const bool adv = !kn.skid;
                    const bool o = kn.pipe[last];
                    if (!kn.out_valid || room) {
                        if (kn.out_valid) occ[k]++;
                        if (kn.skid) { kn.out_valid = true; kn.skid = false; }
                        else kn.out_valid = o;
                    } else if (adv && o) {
                        kn.skid = true;
                    }
                    can_issue = adv;
                }
                bool it = false;
                unsigned char w = 0;
                if (can_issue && kn.pos < kn.end_it && cycle >= kn.start_cycle) {
                    w = s[kn.pos];
                    const bool pop = (w & 1) && k > 0, push = (w & 2) && k < n - 1;
                    it = !(pop && snap[k - 1] == 0) && !(kn.mode == 0 && push && snap[k] >= depth[k]);
                    if (it) {
                        if (pop) occ[k - 1]--;
                        if (push && kn.mode == 0) occ[k]++;
                        if (push && kn.mode == 1) kn.out_valid = true;
                        if (marks && (w & 4)) {
                            const int64_t r[2] = {k, cycle};
                            std::fwrite(r, sizeof r, 1, fm);
                        }
                        issued = true;
                        if (++kn.pos == kn.end_it) running--;
                    }
                }
                if (kn.mode == 2 && can_issue) {  // the stages move: the oldest leaves, this cycle's op enters
                    kn.pipe[last] = it && (w & 2);
                    kn.head = last;
                }
            }
            idle = issued ? 0 : idle + 1;
            if (idle > 100000) {
                std::fprintf(stderr, "deadlock at cycle %lld: every unfinished kernel waits\n", cycle);
                return 1;
            }
            for (int k = 0; k < n - 1; k++)
                if (occ[k] > peak[k]) peak[k] = occ[k];
            cycle++;
        }
        std::printf("%lld", cycle);
        for (int k = 0; k < n - 1; k++) std::printf(" %lld", peak[k]);
        std::printf("\n");
        std::fflush(stdout);
    }
}
