// The integer LIF neuron layer as an HLS kernel: toolchain/snn/lif.py `lif_step` / `li_step`,
// bit for bit (docs/snn.md gives the order of operations; docs/snn_hardware.md the interface).
//
// One call of `lif_layer` is one frame: T time steps of NEURONS currents each, t-major (all
// neurons of step 0, then all of step 1, ...), PE neurons per stream word. Neuron n is lane
// n % PE of word n / PE within its step, so with NHWC tensors and PE dividing C the stream is
// FINN's usual folded layout (..., C / PE, PE) with lane 0 in the least significant bits.
// The state is not cleared by a separate loop: during step 0 the stored state is ignored
// (read as v = 0, r = 0), which costs a multiplexer instead of NEURONS / PE cycles per frame.
//
// Only ap_int.h and hls_stream.h are used, so the same file compiles with g++ against the
// Apache-2.0 ap_types that ship in the hls4ml wheel (C simulation) and with Vitis HLS.
#ifndef TOOLCHAIN_SNN_LIF_HPP
#define TOOLCHAIN_SNN_LIF_HPP

#include <ap_int.h>
#include <hls_stream.h>

namespace lif {

// Bits of a counter holding 0..n; ap_uint<0> does not exist, so at least 1.
constexpr unsigned counter_bits(unsigned n) { return n < 2 ? 1 : 1 + counter_bits(n >> 1); }

constexpr unsigned max_u(unsigned a, unsigned b) { return a > b ? a : b; }

// Element type of one input lane: the upstream accumulator may be signed (INTn) or not (UINTn).
template <unsigned BITS, bool SIGNED> struct in_type { typedef ap_int<BITS> type; };
template <unsigned BITS> struct in_type<BITS, false> { typedef ap_uint<BITS> type; };

// One neuron, one time step: lif_step (READOUT = false) or li_step (true) in place on (v, r),
// returning the spike. Every kernel that keeps LIF state (lif_layer here, the event-driven
// spiking_conv / spiking_dense) calls this, so the arithmetic exists once in C++ as in Python.
template <unsigned STATE_BITS, unsigned CUR_BITS, unsigned LEAK_SHIFT, int THRESHOLD, bool RESET_ZERO,
          unsigned REFRACTORY, bool READOUT>
struct neuron {
    typedef ap_int<STATE_BITS> state_t;
    typedef ap_uint<counter_bits(REFRACTORY)> ref_t;
    // Wide enough for v1 + I without wrapping, whatever the two widths (v1 fits in the state).
    typedef ap_int<max_u(STATE_BITS, CUR_BITS) + 2> sum_t;

    template <typename cur_t>
    static bool step(state_t &v, ref_t &r, const cur_t cur) {
#pragma HLS INLINE
        const sum_t LO = -(sum_t(1) << (STATE_BITS - 1));
        const sum_t HI = (sum_t(1) << (STATE_BITS - 1)) - 1;
        // Leak: >> on ap_int is arithmetic, i.e. floor(v / 2^k) also for negative v.
        const state_t v1 = LEAK_SHIFT > 0 ? state_t(v - (v >> LEAK_SHIFT)) : v;
        sum_t sum = sum_t(v1) + sum_t(cur);
        if (sum < LO) sum = LO;
        if (sum > HI) sum = HI;
        // A readout never fires, so it never becomes refractory.
        const bool free = READOUT || REFRACTORY == 0 || r == 0;
        // A refractory neuron ignores its input but keeps leaking.
        const state_t v2 = free ? state_t(sum) : v1;
        if (READOUT) {
            v = v2;
            return false;
        }
        const bool spike = free && v2 >= THRESHOLD;
        // v2 >= theta > 0 when it fires, so subtracting cannot leave the range.
        v = spike ? (RESET_ZERO ? state_t(0) : state_t(v2 - THRESHOLD)) : v2;
        if (REFRACTORY > 0) r = spike ? ref_t(REFRACTORY) : (free ? ref_t(0) : ref_t(r - 1));
        return spike;
    }
};

}  // namespace lif

// NEURONS      neurons per time step (H * W * C of the layer)
// PE           neurons updated per cycle; NEURONS % PE == 0
// T            time steps per frame
// IN_BITS      width of one input current; IN_SIGNED: INTn (true) or UINTn (false)
// STATE_BITS   signed membrane width B; the membrane saturates to [-2^(B-1), 2^(B-1) - 1]
// LEAK_SHIFT   k in v - (v >> k); 0 = no leak (an IF neuron), not "v = 0"
// THRESHOLD    theta > 0: spike when v >= theta
// RESET_ZERO   reset to 0 (true) or subtract theta (false) after a spike
// REFRACTORY   steps a neuron ignores its input after a spike; 0 = none (no counter memory)
// READOUT      leaky integrator (`li_step`): never fires and streams the membrane each step
//              (STATE_BITS per lane) instead of spikes (1 bit per lane)
template <unsigned NEURONS, unsigned PE, unsigned T, unsigned IN_BITS, bool IN_SIGNED,
          unsigned STATE_BITS, unsigned LEAK_SHIFT, int THRESHOLD, bool RESET_ZERO,
          unsigned REFRACTORY, bool READOUT>
void lif_layer(hls::stream<ap_uint<PE * IN_BITS> > &in,
               hls::stream<ap_uint<PE * (READOUT ? STATE_BITS : 1)> > &out) {
    static_assert(PE > 0 && NEURONS % PE == 0, "PE must divide NEURONS");
    static_assert(T > 0, "a frame needs at least one time step");
    static_assert(STATE_BITS >= 2 && STATE_BITS <= 32, "state_bits in 2..32, as LIFParams");
    static_assert(LEAK_SHIFT < STATE_BITS, "leak_shift in 0..state_bits-1, as LIFParams");
    static_assert(THRESHOLD > 0, "threshold must be positive");
    static_assert(READOUT || (long long)THRESHOLD <= (1LL << (STATE_BITS - 1)) - 1,
                  "threshold must fit the state");

    constexpr unsigned FOLD = NEURONS / PE;  // state entries per PE bank = cycles per step
    constexpr unsigned OUT_BITS = READOUT ? STATE_BITS : 1;
    typedef lif::neuron<STATE_BITS, IN_BITS + (IN_SIGNED ? 0 : 1), LEAK_SHIFT, THRESHOLD, RESET_ZERO,
                        REFRACTORY, READOUT> neuron_t;
    typedef typename neuron_t::state_t state_t;
    typedef typename neuron_t::ref_t ref_t;
    typedef typename lif::in_type<IN_BITS, IN_SIGNED>::type in_t;

    // One bank per PE lane so that PE neurons are read and written in the same cycle; each
    // bank is FOLD deep (the tool picks LUTRAM or BRAM by depth and width).
    state_t vmem[PE][FOLD];
    ref_t rmem[PE][FOLD];
#pragma HLS ARRAY_PARTITION variable=vmem complete dim=1
#pragma HLS ARRAY_PARTITION variable=rmem complete dim=1
    // An entry is read and written back once per step, FOLD cycles apart: that is the true
    // distance of the read-after-write, which lets the tool keep II=1 whenever FOLD covers the
    // read-modify-write latency (and raise the II, still correct, when it does not).
#pragma HLS DEPENDENCE variable=vmem inter RAW distance=FOLD true
#pragma HLS DEPENDENCE variable=rmem inter RAW distance=FOLD true

    // One flat loop over the whole frame: no pipeline drain between steps.
    unsigned nf = 0;
    unsigned t = 0;
    for (unsigned i = 0; i < T * FOLD; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * IN_BITS> word = in.read();
        ap_uint<PE * OUT_BITS> oword = 0;
        const bool first = (t == 0);  // frame start: the stored state belongs to the last frame
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            in_t cur;
            cur.range(IN_BITS - 1, 0) = word.range((p + 1) * IN_BITS - 1, p * IN_BITS);
            state_t v = first ? state_t(0) : vmem[p][nf];
            ref_t r = (READOUT || REFRACTORY == 0 || first) ? ref_t(0) : rmem[p][nf];
            const bool spike = neuron_t::step(v, r, cur);
            vmem[p][nf] = v;
            if (REFRACTORY > 0 && !READOUT) rmem[p][nf] = r;
            if (READOUT)
                oword.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = ap_uint<OUT_BITS>(v);
            else
                oword[p] = spike;
        }
        out.write(oword);
        if (++nf == FOLD) {
            nf = 0;
            t++;
        }
    }
}

#endif  // TOOLCHAIN_SNN_LIF_HPP
