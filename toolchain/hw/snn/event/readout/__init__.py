"""The spiking dense readout: its FINN HW op `SpikingDense` (`op`) and HLS kernel (`spiking_dense.hpp`)."""
