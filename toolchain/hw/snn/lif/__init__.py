"""The integer LIF update (toolchain/snn/lif.py in hardware), shared by both accelerators: the HLS
kernel `lif.hpp` (included by the event-driven conv and readout kernels too), its g++ C
simulation (`csim`), and the dense build's FINN HW op `LIF` (`op`) with its HLS backend
`LIF_hls` (`hls`)."""
