// Event-driven spiking convolution: a conv LIF layer of toolchain/models/snn.py (k x k,
// 'same' padding, no bias, then lif_step), bit for bit, with work that grows with the events.
//
// Per time step, two pipelined loops (II = 1):
// 1. events: each input event (position, channel) adds its kernel, K x K taps x CO filters,
//    into the current accumulators of the K x K output positions it reaches: ONE EVENT PER CYCLE.
//    The accumulators are banked by (oh mod BH, ow mod BW) with BH = K, BW = max(K, SP): the
//    K x K positions of any event fall into K x K different banks, so the CO x K x K adds touch
//    each bank once (one read, one write port per bank: `ram_s2p`). Each bank holds CO
//    accumulators per word (ACC_BITS each) and ceil(H / BH) x ceil(W / BW) words.
//    The read-add-write of a word spans two cycles (read latency 1, the glue pins it), so the
//    next event reads a word in the cycle this one writes it: a true dependence at distance 1,
//    which back-to-back events on one position hit all the time (76 % of consecutive conv1 events
//    on the shipped network, 12 % in conv0). Each bank keeps the word it wrote last in a register
//    (address + CO currents) and the next event takes that register instead of the memory's
//    read when it hits the same word (forwarding); with it, `DEPENDENCE inter false` on the
//    memory is true and the loop schedules at II = 1 (without forwarding HLS must assume the
//    dependence and schedules II = 2; declaring it false without forwarding would be wrong).
//    The C simulation models the write latency (`write_latency` below), so a missing forward
//    gives wrong sums there too.
// 2. sweep: SP positions x CO channels per cycle take their step's current (and clear it), run
//    the integer LIF update of lif.hpp (lif::neuron, i.e. lif_step) exactly once per neuron and
//    step, and send one event word per group of SP positions that has a spike (the step's last
//    group always, carrying STEP). H * W / SP cycles; SP consecutive columns are SP different
//    banks (SP <= BW). The banks are walked with static indices: each computes whether it holds
//    one of the group's positions and for which lane, and reads / clears that word, so every
//    bank port is used once per cycle whatever SP (no run-time index into a partitioned
//    dimension, which would cost SP port accesses a bank and II >= SP). The membranes are
//    banked by SP (lane j's bank), CO channels per word.
// So a step takes (events) + (input words without events) + H * W / SP cycles: the op's cycle
// formula (accelerator.py), which the C simulation's counters are checked against.
//
// The current is summed over the whole step before the neuron sees it (the model's
// sat(v1 + conv(spikes))): saturating each event's add into the membrane would differ.
// The membranes of the previous frame are never cleared: during a frame's first step the stored
// state reads as zero. The accumulators are zero between steps because the sweep clears them.
// The storage of both memories is chosen by the op (`ram_style`, pragmas in the rendered glue
// that declares them); the kernel only needs their shapes.
#ifndef TOOLCHAIN_SNN_SPIKING_CONV_HPP
#define TOOLCHAIN_SNN_SPIKING_CONV_HPP

#include "lif.hpp"
#include "spike_stream.hpp"

#ifndef __SYNTHESIS__
#include <cstdio>
#include <cstdlib>
#endif

// H, W        plane; CI, CO input/output channels; K odd kernel size ('same' padding K / 2)
// IN_LANES    lanes of an input event word (input positions per word x CI)
// SP          positions swept per cycle (divides W, <= max(K, SP) banks per row)
// W_BITS      signed weight width; ACC_BITS the step current's width (no overflow: accelerator.py)
// the rest    LIFParams of snn/lif.py; LAYER the C-simulation counter index
template <unsigned H, unsigned W, unsigned CI, unsigned CO, unsigned K, unsigned IN_LANES, unsigned SP,
          unsigned W_BITS, unsigned ACC_BITS, unsigned STATE_BITS, unsigned LEAK_SHIFT, int THRESHOLD,
          bool RESET_ZERO, unsigned REFRACTORY, unsigned LAYER>
struct spiking_conv {
    static_assert(K % 2 == 1, "odd kernel ('same' padding)");
    static_assert(W % SP == 0, "SP must divide the plane width");
    static_assert(IN_LANES % CI == 0, "an input word carries whole positions");
    static const unsigned P = K / 2;
    static const unsigned BH = K, BW = snn::max_u(K, SP);
    static const unsigned DW = snn::ceil_div(W, BW), DEPTH = snn::ceil_div(H, BH) * DW;
    static const unsigned GROUPS = H * W / SP;
    static const unsigned ADDR_BITS = snn::bits_for(H * W);
    typedef snn::spike_word<IN_LANES, ADDR_BITS> in_word;
    typedef snn::spike_word<SP * CO, ADDR_BITS> out_word;
    typedef lif::neuron<STATE_BITS, ACC_BITS, LEAK_SHIFT, THRESHOLD, RESET_ZERO, REFRACTORY, false> neuron_t;
    typedef typename neuron_t::state_t state_t;
    typedef typename neuron_t::ref_t ref_t;
    typedef ap_int<ACC_BITS> acc_t;
    typedef typename snn::narrow_int<W_BITS>::type w_t;
    typedef acc_t acc_mem[BH][BW][DEPTH][CO];
    typedef state_t v_mem[SP][GROUPS][CO];
    typedef ref_t r_mem[SP][GROUPS][CO];
    // Per bank, the weights its neuron takes from an event, by the event's channel and its
    // position's residues (h mod BH, w mod BW): a ROM of CI x BH x BW words of CO weights per
    // bank (zero where the bank is not reached), so no tap has to be routed to its bank.
    typedef w_t weights[BH][BW][CI][BH][BW][CO];

    // The events loop's forwarding registers: per bank, the address and CO currents it wrote last.
    typedef acc_t fwd_words[BH][BW][CO];
    typedef unsigned fwd_addrs[BH][BW];
    typedef bool fwd_valid[BH][BW];

#ifndef __SYNTHESIS__
    // C simulation of the accumulator memory's one-cycle write latency: a word written in cycle
    // (loop iteration) n is not yet in the memory when cycle n + 1 reads it, as in the pipelined
    // loop; the read returns the word as it was before that write. A plain C loop would return
    // event n's sum at once and hide a missing forward path. The writes go to the array at once;
    // per bank the model keeps the cycle and address of its last write and the word it replaced.
    struct write_latency {
        unsigned long long now = 2, at[BH][BW];
        unsigned addr[BH][BW];
        acc_t before[BH][BW][CO];
        write_latency() {
            for (unsigned b = 0; b < BH * BW; b++) at[b / BW][b % BW] = 0;
        }
        // the memory's read of bank (bh, bw) at address a returns a stale word
        bool stale(unsigned bh, unsigned bw, unsigned a) const {
            return at[bh][bw] + 1 == now && addr[bh][bw] == a;
        }
        acc_t read(const acc_mem &acc, unsigned bh, unsigned bw, unsigned a, unsigned co, bool stale) const {
            return stale ? before[bh][bw][co] : acc[bh][bw][a][co];
        }
        void write(acc_mem &acc, unsigned bh, unsigned bw, unsigned a, const acc_t (&word)[CO]) {
            if (a >= DEPTH) {  // what HLS's C simulation reports as an out-of-bounds array access
                std::fprintf(stderr, "spiking_conv layer %u: accumulator address %u of bank (%u, %u) out of %u\n",
                             LAYER, a, bh, bw, DEPTH);
                std::exit(3);
            }
            for (unsigned co = 0; co < CO; co++) {
                before[bh][bw][co] = acc[bh][bw][a][co];
                acc[bh][bw][a][co] = word[co];
            }
            at[bh][bw] = now;
            addr[bh][bw] = a;
        }
        void cycle_end() { now++; }
        void drain() { now += 2; }  // the pipeline empties before the sweep
    };
#else
    struct write_latency {
        bool stale(unsigned, unsigned, unsigned) const { return false; }
        acc_t read(const acc_mem &acc, unsigned bh, unsigned bw, unsigned a, unsigned co, bool) const {
#pragma HLS INLINE
            return acc[bh][bw][a][co];
        }
        void write(acc_mem &acc, unsigned bh, unsigned bw, unsigned a, const acc_t (&word)[CO]) {
#pragma HLS INLINE
            for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                acc[bh][bw][a][co] = word[co];
            }
        }
        void cycle_end() {}
        void drain() {}
    };
#endif

    static int pos_mod(int x, int m) { return ((x % m) + m) % m; }

    // Adds input (h, w, c)'s kernel into every output position it reaches: out (oh, ow) takes
    // in (oh + kh - P, ow + kw - P) with weight [kh][kw] (kh = K-1-dh), as torch's conv2d.
    // Each reached bank reads its word once (or takes its forwarding register) and writes it once.
    static void add_event(unsigned pos, unsigned c, const weights &wt, acc_mem &acc, fwd_words &fw,
                          fwd_addrs &fa, fwd_valid &fv, write_latency &mem) {
#pragma HLS INLINE
        const int h = pos / W, w = pos % W;
        const int h0 = h - int(P), w0 = w - int(P);  // the reached outputs are h0..h0+K-1, w0..w0+K-1
        for (unsigned bh = 0; bh < BH; bh++) {
#pragma HLS UNROLL
            const int dh = pos_mod(int(bh) - h0, BH);
            const int oh = h0 + dh;
            for (unsigned bw = 0; bw < BW; bw++) {
#pragma HLS UNROLL
                const int dw = pos_mod(int(bw) - w0, BW);
                const int ow = w0 + dw;
                if (dw >= int(K) || oh < 0 || oh >= int(H) || ow < 0 || ow >= int(W)) continue;
                const unsigned a = unsigned(oh) / BH * DW + unsigned(ow) / BW;
                // The bank's register holds the word it wrote last, which may not be in the memory
                // yet: it keeps that word when this event hits it (forwarding), else it takes the
                // memory's read; then it adds the taps and the memory stores it.
                const bool forward = fv[bh][bw] && fa[bh][bw] == a;
                const bool stale = mem.stale(bh, bw, a);  // the write latency model (C simulation)
                const w_t *const taps = wt[bh][bw][c][h % BH][w % BW];
                acc_t (&word)[CO] = fw[bh][bw];
                for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                    if (!forward) word[co] = mem.read(acc, bh, bw, a, co, stale);
                    word[co] += taps[co];
                }
                mem.write(acc, bh, bw, a, word);
                fa[bh][bw] = a;
                fv[bh][bw] = true;
            }
        }
    }

    static void sweep(bool first, acc_mem &acc, v_mem &vmem, r_mem &rmem,
                      hls::stream<typename out_word::type> &out) {
    groups:
        for (unsigned g = 0; g < GROUPS; g++) {
#pragma HLS PIPELINE II=1
            // each word (accumulator, membrane) is read and written by exactly one group
#pragma HLS DEPENDENCE variable=acc type=inter dependent=false
#pragma HLS DEPENDENCE variable=vmem type=inter dependent=false
#pragma HLS DEPENDENCE variable=rmem type=inter dependent=false
            const unsigned h = g / (W / SP), w0 = g % (W / SP) * SP;
            // Every bank, by static index: the lane j it serves (column w0 + j, j < SP, has
            // residue bw), if the group's row is its row residue; it reads and clears that word.
            acc_t cur[SP][CO];
#pragma HLS ARRAY_PARTITION variable=cur complete dim=0
            for (unsigned bh = 0; bh < BH; bh++) {
#pragma HLS UNROLL
                for (unsigned bw = 0; bw < BW; bw++) {
#pragma HLS UNROLL
                    const unsigned j = (bw + BW - w0 % BW) % BW;
                    if (bh != h % BH || j >= SP) continue;
                    const unsigned a = h / BH * DW + (w0 + j) / BW;
                    for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                        cur[j][co] = acc[bh][bw][a][co];
                        acc[bh][bw][a][co] = 0;
                    }
                }
            }
            typename out_word::mask_t mask = 0;
            for (unsigned j = 0; j < SP; j++) {
#pragma HLS UNROLL
                for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                    state_t v = first ? state_t(0) : vmem[j][g][co];
                    ref_t r = (REFRACTORY == 0 || first) ? ref_t(0) : rmem[j][g][co];
                    mask[j * CO + co] = neuron_t::step(v, r, cur[j][co]);
                    vmem[j][g][co] = v;
                    if (REFRACTORY > 0) rmem[j][g][co] = r;
                }
            }
            const bool last = g == GROUPS - 1;
            if (mask != 0 || last) out.write(out_word::event(h * W + w0, mask, last));
        }
    }

    // One call = one frame: steps until the FRAME word, which is passed on.
    static void run(hls::stream<typename in_word::type> &in, hls::stream<typename out_word::type> &out,
                    const weights &wt, acc_mem &acc, v_mem &vmem, r_mem &rmem) {
        unsigned long long iters = 0;
        bool first = true;
        fwd_words fw;
        fwd_addrs fa;
        fwd_valid fv;
#pragma HLS ARRAY_PARTITION variable=fw complete dim=0
#pragma HLS ARRAY_PARTITION variable=fa complete dim=0
#pragma HLS ARRAY_PARTITION variable=fv complete dim=0
        write_latency mem;
    steps:
        for (;;) {
            typename in_word::mask_t mask = 0;
            unsigned addr = 0;
            bool step = false, frame = false, bad = false, done = false;
            // the sweep cleared the accumulators: the registers hold no word of this step
            for (unsigned b = 0; b < BH * BW; b++) {
#pragma HLS UNROLL
                fv[b / BW][b % BW] = false;
            }
        events:
            while (!done) {
#pragma HLS PIPELINE II=1
                // true with the forwarding in add_event: a word written by the previous event
                // comes from its bank's register, older writes have reached the memory
#pragma HLS DEPENDENCE variable=acc type=inter dependent=false
                iters++;
                bool have = mask != 0;
                if (!have) {
                    const typename in_word::type w = in.read();
                    mask = in_word::mask(w);
                    addr = in_word::addr(w);
                    step = w[in_word::STEP];
                    frame = w[in_word::FRAME];
                    bad = w[in_word::BAD];
                    have = !frame && mask != 0;
                    done = frame || (mask == 0 && step);
                }
                if (have) {
                    const unsigned lane = snn::lowest_lane(mask);
                    mask = snn::clear_lowest(mask);
                    add_event(addr + lane / CI, lane % CI, wt, acc, fw, fa, fv, mem);
                    done = mask == 0 && step;
                }
                mem.cycle_end();
            }
            mem.drain();
            if (frame) {
                out.write(out_word::frame_end(bad));
                break;
            }
            sweep(first, acc, vmem, rmem, out);
            iters += GROUPS;
            first = false;
        }
        SNN_COUNT(LAYER, iters);
    }
};

#endif  // TOOLCHAIN_SNN_SPIKING_CONV_HPP
