"""Spiking-network path: the integer LIF neuron (`lif`), spike encoders (`encoders`), and the
trainable layers (`layers`); see docs/snn.md."""
