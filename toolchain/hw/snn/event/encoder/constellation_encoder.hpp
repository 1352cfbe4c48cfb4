// The constellation spike encoder in hardware: the int8 I/Q stream of the CNN accelerator in,
// one event per sample out (toolchain/snn/encoders.py `constellation`, bit for bit).
//
// Input: an AXI4-Stream word per sample (hls::axis, axis_port.hpp), TDATA = I in bits
// [0, IN_BITS), Q in [IN_BITS, 2 IN_BITS) (two's complement codes of the input quantizer), and
// the bus's TLAST on the frame's last sample. The plane cell
// of a sample is row = QBIN[q], column = IBIN[i]; the two tables are the model's own binning
// evaluated on every code (accelerator.py), so the cell is the model's by construction, and a
// table is 2^IN_BITS entries of bits(R) bits (a LUT ROM, no arithmetic).
//
// Each sample is one event (count 1): a cell hit by n samples of a step gets n events, and the
// convolution adds its weights n times, which equals the model's count x weight without a
// multiplier. BINARY drops repeats of a cell within a step (the model's `binary`). Every GROUP
// kept samples close a time step (STEP on the word of the step's last sample); LAST closes the
// (possibly partial) step and the frame. Samples
// after FRAME_LEN without LAST are dropped, and a frame whose length is not FRAME_LEN is flagged
// BAD on its FRAME word, so the output says which classes come from broken frames.
#ifndef TOOLCHAIN_SNN_CONSTELLATION_ENCODER_HPP
#define TOOLCHAIN_SNN_CONSTELLATION_ENCODER_HPP

#include "axis_port.hpp"
#include "spike_stream.hpp"

template <unsigned IN_BITS, unsigned R, unsigned GROUP, unsigned FRAME_LEN, bool BINARY, unsigned LAYER>
struct constellation_encoder {
    static const unsigned ADDR_BITS = snn::bits_for(R * R);
    typedef snn::spike_word<1, ADDR_BITS> out_word;
    typedef hls::axis<ap_uint<2 * IN_BITS>, 0, 0, 0> in_t;  // TDATA I, Q; TLAST
    typedef unsigned short bin_t;  // a ROM of R <= 65,536 rows

    // One call = one frame (up to and including the sample with LAST).
    static void run(hls::stream<in_t> &in, hls::stream<typename out_word::type> &out,
                    const bin_t (&ibin)[1 << IN_BITS], const bin_t (&qbin)[1 << IN_BITS]) {
        ap_uint<R * R> seen = 0;  // BINARY: cells already sent in this step (registers, cleared at once)
        unsigned in_step = 0;     // samples kept in the current step
        unsigned kept = 0;        // samples kept in the frame
        unsigned long long iters = 0;
        bool last = false;
        bool overrun = false;     // samples after FRAME_LEN without LAST (dropped)
    samples:
        while (!last) {
#pragma HLS PIPELINE II=1
            const in_t w = in.read();
            iters++;
            last = w.last;
            const ap_uint<IN_BITS> i = w.data.range(IN_BITS - 1, 0);
            const ap_uint<IN_BITS> q = w.data.range(2 * IN_BITS - 1, IN_BITS);
            if (kept < FRAME_LEN) {
                const unsigned cell = qbin[q.to_uint()] * R + ibin[i.to_uint()];
                const bool send = !BINARY || !seen[cell];
                seen[cell] = 1;
                kept++;
                // The step's last sample carries STEP itself: one stream write per sample (II = 1).
                const bool close = ++in_step == GROUP;
                if (close) {
                    in_step = 0;
                    seen = 0;
                }
                if (send || close) out.write(out_word::event(cell, send, close));
            } else {
                overrun = true;
            }
        }
        // The partial last step of a short frame, then the frame marker: two more words.
        if (in_step > 0) {
            out.write(out_word::step_end());
            iters++;
        }
        out.write(out_word::frame_end(overrun || kept != FRAME_LEN));
        iters++;
        SNN_COUNT(LAYER, iters);
    }
};

#endif  // TOOLCHAIN_SNN_CONSTELLATION_ENCODER_HPP
