"""The dense FINN build of an SNN (`build/snn-radioml-dense`): one time step per image through
FINN's own layers plus the `LIF` op (`toolchain.hw.snn.lif`). The QONNX -> FINN rewrite
(`infer_lif`), the spike-input MVAU (`spike_mvau`), Python execution of a stateful graph over a
frame's time steps (`execute`) and the build's verification (`verify`)."""
