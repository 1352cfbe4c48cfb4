// AXI4-Stream words with sideband signals at the accelerator's external ports (the I/Q input and
// the class output): TLAST is the bus's own signal there, not a bit of the data. Between the
// kernels the frame end stays in-band (the FRAME word of spike_stream.hpp).
//
// Vitis HLS ships `hls::axis` in ap_axi_sdata.h; hls4ml's ap_types (the g++ C simulation here)
// do not, so without that header this one defines the fields of `hls::axis<T, 0, 0, 0>` that the
// kernels use (data, keep, strb, last: no TUSER, TID, TDEST), with the same names and meaning.
#ifndef TOOLCHAIN_SNN_AXIS_PORT_HPP
#define TOOLCHAIN_SNN_AXIS_PORT_HPP

#include <ap_int.h>

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define TOOLCHAIN_SNN_HAVE_AP_AXI_SDATA 1
#endif
#endif

#ifndef TOOLCHAIN_SNN_HAVE_AP_AXI_SDATA
namespace hls {
template <typename T, int WUser, int WId, int WDest>
struct axis {
    static_assert(WUser == 0 && WId == 0 && WDest == 0, "C simulation stand-in: no TUSER, TID or TDEST");
    T data;
    ap_uint<(T::width + 7) / 8> keep;  // TKEEP, TSTRB: one bit per byte of TDATA
    ap_uint<(T::width + 7) / 8> strb;
    ap_uint<1> last;                   // TLAST
};
}  // namespace hls
#endif

namespace snn {

// One AXI4-Stream word: every byte valid, TLAST as given.
template <typename T>
hls::axis<T, 0, 0, 0> axis_word(const T &data, bool last) {
#pragma HLS INLINE
    hls::axis<T, 0, 0, 0> w;
    w.data = data;
    w.keep = -1;
    w.strb = -1;
    w.last = last;
    return w;
}

}  // namespace snn

#endif  // TOOLCHAIN_SNN_AXIS_PORT_HPP
