"""RTL tooling shared by both accelerators (FINN's RTL layers and the project's own SystemVerilog
kernels): locating the simulator and the synthesizer, and running them."""
