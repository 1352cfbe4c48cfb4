"""Spiking-network path: the integer LIF neuron (`lif`), spike encoders (`encoders`), and the
trainable layers (`layers`); see docs/snn.md."""


def __getattr__(name: str):
    # qonnx looks an op of the domain "toolchain.snn" up in the module of that name (this
    # package) when `toolchain.snn.qonnx_ops` was not imported: hand it that module's ops.
    # Lazy, so that importing the package does not import qonnx.
    if name == "custom_op":
        from .qonnx_ops import custom_op

        return custom_op
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
