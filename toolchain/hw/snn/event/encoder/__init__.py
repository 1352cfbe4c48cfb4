"""The constellation encoder: its FINN HW op (`op`) and HLS kernel (`constellation_encoder.hpp`)."""
