// Event-driven spiking convolution: a conv LIF layer of toolchain/models/snn.py (k x k,
// 'same' padding, no bias, then lif_step), bit for bit, with work that grows with the events.
//
// Per time step, two pipelined loops (II = 1):
// 1. events: each input event (position, channel) adds its kernel, K x K taps x CO filters,
//    into the current accumulators of the K x K output positions it reaches: ONE EVENT PER CYCLE.
//    The accumulators are banked by (oh mod BH, ow mod BW) with BH = K, BW = max(K, SP): the
//    K x K positions of any event fall into K x K different banks, so the CO x K x K adds touch
//    each bank once. Each bank holds CO accumulators per word (ACC_BITS each) and
//    ceil(H / BH) x ceil(W / BW) words; with LUTRAM (asynchronous read) the read-add-write of a
//    word fits one cycle, so back-to-back events on the same position keep II = 1.
// 2. sweep: SP positions x CO channels per cycle take their step's current (and clear it), run
//    the integer LIF update of lif.hpp (lif::neuron, i.e. lif_step) exactly once per neuron and
//    step, and send one event word per group of SP positions that has a spike (the step's last
//    group always, carrying STEP). H * W / SP cycles; SP consecutive columns are SP different
//    banks (SP <= BW), and the membranes are banked by SP, CO channels per word.
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

    static int pos_mod(int x, int m) { return ((x % m) + m) % m; }

    // Adds input (h, w, c)'s kernel into every output position it reaches: out (oh, ow) takes
    // in (oh + kh - P, ow + kw - P) with weight [kh][kw] (kh = K-1-dh), as torch's conv2d.
    static void add_event(unsigned pos, unsigned c, const weights &wt, acc_mem &acc) {
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
                for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                    acc[bh][bw][a][co] += wt[bh][bw][c][h % BH][w % BW][co];
                }
            }
        }
    }

    static void sweep(bool first, acc_mem &acc, v_mem &vmem, r_mem &rmem,
                      hls::stream<typename out_word::type> &out) {
    groups:
        for (unsigned g = 0; g < GROUPS; g++) {
#pragma HLS PIPELINE II=1
            const unsigned h = g / (W / SP), w0 = g % (W / SP) * SP;
            typename out_word::mask_t mask = 0;
            for (unsigned j = 0; j < SP; j++) {
#pragma HLS UNROLL
                const unsigned ow = w0 + j;
                const unsigned a = h / BH * DW + ow / BW;
                for (unsigned co = 0; co < CO; co++) {
#pragma HLS UNROLL
                    const acc_t cur = acc[h % BH][ow % BW][a][co];
                    acc[h % BH][ow % BW][a][co] = 0;
                    state_t v = first ? state_t(0) : vmem[j][g][co];
                    ref_t r = (REFRACTORY == 0 || first) ? ref_t(0) : rmem[j][g][co];
                    mask[j * CO + co] = neuron_t::step(v, r, cur);
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
    steps:
        for (;;) {
            typename in_word::mask_t mask = 0;
            unsigned addr = 0;
            bool step = false, frame = false, bad = false;
        events:
            for (;;) {
#pragma HLS PIPELINE II=1
                iters++;
                if (mask == 0) {
                    const typename in_word::type w = in.read();
                    mask = in_word::mask(w);
                    addr = in_word::addr(w);
                    step = w[in_word::STEP];
                    frame = w[in_word::FRAME];
                    bad = w[in_word::BAD];
                    if (frame) break;
                    if (mask == 0) {
                        if (step) break;
                        continue;
                    }
                }
                const unsigned lane = snn::lowest_lane(mask);
                mask[lane] = 0;
                add_event(addr + lane / CI, lane % CI, wt, acc);
                if (mask == 0 && step) break;
            }
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
