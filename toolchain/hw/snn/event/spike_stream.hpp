// The event stream between the kernels of the event-driven SNN accelerator
// (docs/snn_hardware.md, "Event-driven accelerator").
//
// A frame is a sequence of time steps, each a run of event words closed by one STEP word, and
// the frame is closed by one FRAME word (TLAST's role: a kernel finishes its frame there, so a
// short or broken frame cannot shift the frames after it). An event word names one group of
// positions of a plane, its first position `addr` (row-major h * W + w) and a LANES-bit mask:
// lane l is channel l % C of position addr + l / C. Only words with at least one set lane are
// sent (or it carries STEP: the step ends after its events), so the words a layer receives
// are its input's events plus its markers.
//
//   bits [0, LANES)                 mask (event word; zero in markers)
//   bits [LANES, LANES + ADDR_BITS) addr
//   bit  LANES + ADDR_BITS          STEP: the time step ends here
//   bit  LANES + ADDR_BITS + 1      FRAME: the frame ends here (after its last STEP)
//   bit  LANES + ADDR_BITS + 2      BAD: with FRAME, the frame had not the expected length
#ifndef TOOLCHAIN_SNN_SPIKE_STREAM_HPP
#define TOOLCHAIN_SNN_SPIKE_STREAM_HPP

#include <ap_int.h>
#include <hls_stream.h>

#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace snn {

constexpr unsigned value_bits(unsigned v) { return v < 2 ? 1 : 1 + value_bits(v >> 1); }  // for 0..v
constexpr unsigned bits_for(unsigned n) { return value_bits(n - 1); }                        // for 0..n-1
constexpr unsigned max_u(unsigned a, unsigned b) { return a > b ? a : b; }
constexpr unsigned ceil_div(unsigned a, unsigned b) { return (a + b - 1) / b; }

// The narrowest C integer holding a BITS-bit signed value: constant tables (weights) stored as
// plain integers compile in seconds with g++ where ap_int initialisers of 10^5 entries take
// minutes; the adders' widths are set by the ap_int accumulators they are added into.
template <unsigned BITS, bool SMALL = (BITS <= 8), bool MEDIUM = (BITS <= 16)> struct narrow_int {
    typedef int type;
};
template <unsigned BITS> struct narrow_int<BITS, true, true> { typedef signed char type; };
template <unsigned BITS> struct narrow_int<BITS, false, true> { typedef short type; };

template <unsigned LANES, unsigned ADDR_BITS>
struct spike_word {
    static const unsigned WIDTH = LANES + ADDR_BITS + 3;
    static const unsigned STEP = LANES + ADDR_BITS, FRAME = STEP + 1, BAD = STEP + 2;
    typedef ap_uint<WIDTH> type;
    typedef ap_uint<LANES> mask_t;

    // An event word; `step` closes the time step after its events (saves a marker word).
    static type event(unsigned addr, mask_t mask, bool step = false) {
#pragma HLS INLINE
        type w = 0;
        w.range(LANES - 1, 0) = mask;
        w.range(STEP - 1, LANES) = addr;
        w[STEP] = step;
        return w;
    }
    static type step_end() {
#pragma HLS INLINE
        type w = 0;
        w[STEP] = 1;
        return w;
    }
    static type frame_end(bool bad) {
#pragma HLS INLINE
        type w = 0;
        w[FRAME] = 1;
        w[BAD] = bad;
        return w;
    }
    static mask_t mask(const type &w) { return w.range(LANES - 1, 0); }
    static unsigned addr(const type &w) { return w.range(STEP - 1, LANES).to_uint(); }
};

// A mask without its lowest set bit: m & (m - 1), one subtract and an AND, no select chain.
template <int N>  // ap_uint's width parameter is an int
ap_uint<N> clear_lowest(const ap_uint<N> &m) {
#pragma HLS INLINE
    return m & ap_uint<N>(m - 1);
}

// Index of the lowest set bit of a non-zero mask (a priority encoder in hardware), without a
// chain through the lanes: the lowest set bit isolated as a one-hot (m & -m, a carry chain the
// tool maps to the fast carry logic), then bit k of the index is the OR of the one-hot lanes
// whose index has bit k set: one balanced OR tree (or_reduce) of N / 2 inputs per index bit.
template <int N>
unsigned lowest_lane(const ap_uint<N> &m) {
#pragma HLS INLINE
    const ap_uint<N> onehot = m & ap_uint<N>(~m + 1);
    unsigned idx = 0;
    for (unsigned k = 0; k < bits_for(N); k++) {
#pragma HLS UNROLL
        ap_uint<N> lanes = 0;  // the constant set of lanes with bit k: folded away by the tool
        for (unsigned c = 0; c < ceil_div(N, 64); c++) {
#pragma HLS UNROLL
            // within 64 lanes bit k < 6 repeats every 2^(k+1) lanes; above, whole 64-lane chunks
            static const unsigned long long PATTERN[6] = {0xAAAAAAAAAAAAAAAAull, 0xCCCCCCCCCCCCCCCCull,
                                                          0xF0F0F0F0F0F0F0F0ull, 0xFF00FF00FF00FF00ull,
                                                          0xFFFF0000FFFF0000ull, 0xFFFFFFFF00000000ull};
            const unsigned long long chunk = k < 6 ? PATTERN[k] : ((c >> (k - 6)) & 1 ? ~0ull : 0ull);
            const unsigned hi = (c + 1) * 64 > unsigned(N) ? unsigned(N) - 1 : (c + 1) * 64 - 1;
            lanes.range(hi, c * 64) = ap_uint<64>(chunk);
        }
        if ((onehot & lanes).or_reduce()) idx |= 1u << k;
    }
    return idx;
}

// C simulation only: every kernel adds the iterations of its pipelined loops (the cycles of an
// II = 1 schedule) to its layer's counter; the harness reads one total per frame.
#ifndef __SYNTHESIS__
inline std::vector<unsigned long long> &iteration_counters() {
    static std::vector<unsigned long long> c;
    return c;
}
inline void count_iterations(unsigned layer, unsigned long long n) {
    std::vector<unsigned long long> &c = iteration_counters();
    if (c.size() <= layer) c.resize(layer + 1, 0);
    c[layer] += n;
}
#define SNN_COUNT(LAYER, N) ::snn::count_iterations(LAYER, N)
#else
#define SNN_COUNT(LAYER, N)
#endif

}  // namespace snn

#endif  // TOOLCHAIN_SNN_SPIKE_STREAM_HPP
