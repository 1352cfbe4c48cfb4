// The cycle loop of the FIFO model (accel_fifo.py): the event-driven kernels run concurrently,
// each one II = 1 loop iteration per cycle when the word it pops is there and the FIFO it
// pushes into has room; a word pushed in a cycle can be popped from the next one on, and a pop
// frees its slot from the next cycle on. In C++ because a test split is millions of cycles
// per run and the depth search runs the frames some 25 times.
//
// argv: SCHEDULE N L_0 ... L_{N-1}. SCHEDULE holds one byte per iteration (bit 0: pops its input
// FIFO, bit 1: pushes its output FIFO), the N kernels' L_k iterations one kernel after the
// other. stdin: one line of N - 1 FIFO depths per run; stdout: one line per run with the cycles
// until every kernel has finished and the most words each FIFO held.
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 4) { std::fprintf(stderr, "usage: %s SCHEDULE N L_0 ... L_{N-1}\n", argv[0]); return 2; }
    const int n = std::atoi(argv[2]);
    if (n < 2 || argc != 3 + n) { std::fprintf(stderr, "expected N >= 2 kernels and N lengths\n"); return 2; }
    std::vector<long long> start(n + 1, 0);
    for (int k = 0; k < n; k++) start[k + 1] = start[k] + std::atoll(argv[3 + k]);
    std::vector<unsigned char> s(start[n]);
    std::FILE *f = std::fopen(argv[1], "rb");
    if (!f || std::fread(s.data(), 1, s.size(), f) != s.size()) {
        std::fprintf(stderr, "cannot read %lld schedule bytes from %s\n", start[n], argv[1]);
        return 1;
    }
    std::fclose(f);
    std::vector<long long> depth(n - 1), pos(n), occ(n - 1), snap(n - 1), peak(n - 1);
    for (;;) {
        for (int k = 0; k < n - 1; k++)
            if (std::scanf("%lld", &depth[k]) != 1) return 0;
        for (int k = 0; k < n; k++) pos[k] = start[k];
        occ.assign(n - 1, 0);
        peak.assign(n - 1, 0);
        long long cycle = 0;
        int running = n;
        while (running > 0) {
            snap = occ;  // this cycle's decisions see the FIFOs as they were at its start
            bool moved = false;
            for (int k = 0; k < n; k++) {
                if (pos[k] == start[k + 1]) continue;
                const unsigned char w = s[pos[k]];
                const bool pop = (w & 1) && k > 0, push = (w & 2) && k < n - 1;
                if (pop && snap[k - 1] == 0) continue;
                if (push && snap[k] >= depth[k]) continue;
                if (pop) occ[k - 1]--;
                if (push) occ[k]++;
                moved = true;
                if (++pos[k] == start[k + 1]) running--;
            }
            if (!moved) {
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
    }
}
