"""Harnesses for HLS C++ kernels without a Xilinx install: `gxx` compiles a kernel's C simulation
with g++ against the ap_types shipped in hls4ml, cached by a hash of its inputs. The RTL
counterparts (Verilator simulation, Yosys synthesis) live in `toolchain.hw.rtl`."""
