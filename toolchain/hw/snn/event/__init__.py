"""The event-driven SNN accelerator (the default build, `build/snn-radioml`): encoder -> spiking
convs -> readout passing spike events. Each kernel's FINN HW op sits beside its HLS kernel
(`encoder/`, `conv/`, `readout/`: `op.py` + `.hpp`); what they share: `event_op` (the ops' base
classes), `spike_stream.hpp` (the event word), `accelerator` (model -> kernel parameters),
`accel_csim` (the whole accelerator's C simulation), `accel_fifo` + `fifo_model.cpp` (the FIFO
depth model), `accel_verify` / `event_verify` (bit-exactness checks), `event_graph` (the FINN
graph of the ops), `accel_report` / `accel_plot` (the build report's `event_driven` section)."""
