"""The SNN networks the accelerator tests build (plain ModelConfig keyword sets)."""

# The shipped network (build/snn-radioml/train_quick.yaml): 16x16 plane, 2 x 16 filters 5x5, T = 16.
SHIPPED = dict(name="snn", snn_encoder="constellation", snn_group=64, snn_resolution=16, snn_filters=[16, 16],
               snn_kernel=5, weight_bits=8, snn_state_bits=24, snn_leak_shift=4, snn_threshold=128,
               snn_readout="membrane")
# A small network with every other option: binary cells, 7-bit state (saturates), reset to zero,
# refractory steps, spike-count readout (ties between classes are common: lowest index wins).
SMALL = dict(name="snn", input_length=256, snn_group=16, snn_resolution=8, snn_filters=[4, 4], snn_kernel=3,
             weight_bits=6, snn_threshold=40, snn_state_bits=7, snn_leak_shift=1, snn_binary=True,
             snn_reset="zero", snn_refractory=1, snn_readout="count")
# SMALL with a membrane readout: ties between class membranes come from `tie_readout`, which
# gives two classes the same weight row (the tests tie the most frequent winner).
TIED = dict(SMALL, snn_readout="membrane")


def tie_readout(model, winner: int) -> int:
    """Copies the readout's weight row of class `winner` into its neighbour (the next class, or the
    one before the last): their membranes are then equal on every frame. Returns the neighbour."""
    import torch

    w = model.layers[-1].synapse.weight
    other = winner + 1 if winner + 1 < w.shape[0] else winner - 1
    with torch.no_grad():
        w[other] = w[winner]
    return other
