// Event-driven spiking dense readout: the last layer of toolchain/models/snn.py (a linear
// synapse on the flattened (C, H, W) spikes, then li_step for the membrane readout or lif_step
// for the spike-count readout), bit for bit, and the class decision of the frame.
//
// Per time step: EPC (1 or 2) input events of one input word per cycle add their weight rows
// (NO weights, one per output neuron: the glue reshapes the ROM so that one ROM word is one
// row, and the two rows come through its two read ports, one word each) into NO current
// registers; after the step's last event ONE LIF lane updates the NO neurons in NO cycles
// (lif::neuron; input waits meanwhile), clearing each current, and keeps a running argmax of
// the updated membranes (MEMBRANE) or spike counts, strict `>` so ties keep the lowest index
// as torch.argmax. At FRAME it writes that step's class with the frame's BAD flag above it (an
// AXI4-Stream word with TLAST: one word per frame), and the NO final membranes. One lane
// instead of NO: the readout has cycles to spare (the convolutions are slower), not LUTs
// (docs/snn_hardware.md).
// So a frame takes the sum over its input words of max(1, ceil(events / EPC)) cycles, plus NO
// per step, plus the FRAME word.
#ifndef TOOLCHAIN_SNN_SPIKING_DENSE_HPP
#define TOOLCHAIN_SNN_SPIKING_DENSE_HPP

#include "axis_port.hpp"
#include "lif.hpp"
#include "spike_stream.hpp"

// POS, CI     positions and channels of the input plane (input neuron c * POS + pos, torch's
//             flatten of (C, H, W)); IN_LANES lanes of an input word; NO output neurons
// MEMBRANE    li_step readout of the final membrane (true) or lif_step + spike counts (false)
// EPC         events per cycle, 1 or 2
template <unsigned POS, unsigned CI, unsigned IN_LANES, unsigned NO, unsigned W_BITS, unsigned ACC_BITS,
          unsigned STATE_BITS, unsigned LEAK_SHIFT, int THRESHOLD, bool RESET_ZERO, unsigned REFRACTORY,
          bool MEMBRANE, unsigned EPC, unsigned LAYER>
struct spiking_dense {
    static_assert(EPC == 1 || EPC == 2, "a ROM has two read ports");
    static_assert(IN_LANES % CI == 0, "an input word carries whole positions");
    static const unsigned ADDR_BITS = snn::bits_for(POS);
    static const unsigned CLASS_BITS = snn::bits_for(NO);
    static const unsigned COUNT_BITS = 16;  // spikes per frame per neuron: frames of < 65,536 steps
    typedef snn::spike_word<IN_LANES, ADDR_BITS> in_word;
    typedef lif::neuron<STATE_BITS, ACC_BITS, LEAK_SHIFT, THRESHOLD, RESET_ZERO, REFRACTORY, MEMBRANE> neuron_t;
    typedef typename neuron_t::state_t state_t;
    typedef typename neuron_t::ref_t ref_t;
    typedef ap_int<ACC_BITS> acc_t;
    typedef typename snn::narrow_int<W_BITS>::type w_t;
    typedef w_t weights[CI * POS][NO];
    typedef ap_uint<CLASS_BITS + 1> class_t;  // class, BAD in the top bit
    typedef hls::axis<class_t, 0, 0, 0> class_word;  // TDATA = class_t, TLAST on every word (a frame's answer)
    typedef ap_uint<NO * STATE_BITS> membranes_t;

    static void run(hls::stream<typename in_word::type> &in, hls::stream<class_word> &out_class,
                    hls::stream<membranes_t> &out_membranes, const weights &wt) {
        acc_t acc[NO];
        state_t v[NO];
        ref_t r[NO];
        ap_uint<COUNT_BITS> counts[NO];
#pragma HLS ARRAY_PARTITION variable=acc complete
#pragma HLS ARRAY_PARTITION variable=v complete
#pragma HLS ARRAY_PARTITION variable=r complete
#pragma HLS ARRAY_PARTITION variable=counts complete
        for (unsigned o = 0; o < NO; o++) {
#pragma HLS UNROLL
            acc[o] = 0;
            v[o] = 0;
            r[o] = 0;
            counts[o] = 0;
        }
        unsigned long long iters = 0;
        typename in_word::mask_t mask = 0;
        unsigned addr = 0;
        bool step = false, bad = false;
        unsigned u = NO;  // the neuron the lane updates next; NO = not updating
        unsigned cls = 0;  // argmax after the last completed step (0 before any step)
        state_t best_v = 0;
        ap_uint<COUNT_BITS> best_c = 0;
    words:
        for (;;) {
#pragma HLS PIPELINE II=1
            iters++;
            if (u < NO) {
                // The step's last event was added: neuron u takes its current now.
                counts[u] += neuron_t::step(v[u], r[u], acc[u]);
                acc[u] = 0;
                const bool better = u == 0 || (MEMBRANE ? v[u] > best_v : counts[u] > best_c);
                if (better) {
                    best_v = v[u];
                    best_c = counts[u];
                    cls = u;
                }
                u++;
                continue;
            }
            bool update = false;
            if (mask == 0) {
                const typename in_word::type w = in.read();
                mask = in_word::mask(w);
                addr = in_word::addr(w);
                step = w[in_word::STEP];
                if (w[in_word::FRAME]) {
                    bad = w[in_word::BAD];
                    break;
                }
                update = mask == 0 && step;
            }
            if (mask != 0) {
                const unsigned lane0 = snn::lowest_lane(mask);
                mask = snn::clear_lowest(mask);
                const bool two = EPC == 2 && mask != 0;
                const unsigned lane1 = snn::lowest_lane(mask);
                if (two) mask = snn::clear_lowest(mask);
                const unsigned n0 = lane0 % CI * POS + addr + lane0 / CI;
                const unsigned n1 = two ? lane1 % CI * POS + addr + lane1 / CI : n0;
                // Two whole rows, one ROM word each (port 0 and port 1), then NO adds per row.
                w_t row0[NO], row1[NO];
#pragma HLS ARRAY_PARTITION variable=row0 complete
#pragma HLS ARRAY_PARTITION variable=row1 complete
                for (unsigned o = 0; o < NO; o++) {
#pragma HLS UNROLL
                    row0[o] = wt[n0][o];
                    row1[o] = EPC == 2 ? wt[n1][o] : w_t(0);
                }
                for (unsigned o = 0; o < NO; o++) {
#pragma HLS UNROLL
                    acc[o] += row0[o];
                    if (two) acc[o] += row1[o];
                }
                update = mask == 0 && step;
            }
            if (update) u = 0;
        }
        out_class.write(snn::axis_word(class_t(class_t(cls) | (class_t(bad) << CLASS_BITS)), true));
        membranes_t m = 0;
        for (unsigned o = 0; o < NO; o++) {
#pragma HLS UNROLL
            m.range((o + 1) * STATE_BITS - 1, o * STATE_BITS) = ap_uint<STATE_BITS>(v[o]);
        }
        out_membranes.write(m);
        SNN_COUNT(LAYER, iters);
    }
};

#endif  // TOOLCHAIN_SNN_SPIKING_DENSE_HPP
