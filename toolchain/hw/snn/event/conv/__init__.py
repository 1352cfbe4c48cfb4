"""The spiking convolution: its FINN HW op (`op`) and HLS kernel (`spiking_conv.hpp`)."""
