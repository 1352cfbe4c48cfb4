"""prune on an SNN: the LIF synapses (Brevitas QuantConv2d, the QuantLinear readout) are pruned,
fine-tuning sees the masked weights (the SNN never calls its synapses' forward, so torch's
pruning hook alone would leave a stale weight), and the log and report carry per-layer spike
rates. A one-layer SNN, 2 time steps, one step of pruning; seconds on 2 cores."""

import json

import pytest
import torch
from torch import nn

from toolchain.checkpoint import load_model, save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig, SynthConfig
from toolchain.data.synth import generate
from toolchain.models import build_model
from toolchain.compression import masks
from toolchain.compression.sweep import zeros_kept
from toolchain.snn.layers import int_weight

LENGTH = 128
CFG = ModelConfig(name="snn", input_length=LENGTH, snn_filters=[4], snn_kernel=3, snn_resolution=8, snn_group=64,
                  snn_threshold=20, weight_bits=6)


def fine_tune(model, steps=3):
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.randn(8, 2, LENGTH, generator=torch.Generator().manual_seed(1)), torch.arange(8)
    for _ in range(steps):  # a stale masked weight fails at the second backward pass
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def test_masks_reach_the_integer_weights_while_fine_tuning():
    torch.manual_seed(0)
    model = build_model(CFG).train()
    targets = masks.select(model, ["conv", "linear"])
    assert [(n, type(m).__name__) for n, m in targets] == [("layers.0.synapse", "QuantConv2d"),
                                                          ("layers.1.synapse", "QuantLinear")]
    masks.attach(targets)
    masks.follow_masks(model, targets)
    masks.prune_global(targets, 0.5)
    before = {n: m.weight_orig.detach().clone() for n, m in targets}
    fine_tune(model)
    for name, m in targets:
        mask = m.weight_mask
        assert not torch.equal(m.weight_orig, before[name]), name  # the gradient reached weight_orig
        assert bool((int_weight(m)[mask == 0] == 0).all()), name  # the synapse computes with the mask
    with torch.no_grad():
        model(torch.randn(2, 2, LENGTH))
    for name, m in targets:  # each forward pass computes with the current weights, not the first ones
        assert torch.equal(m.weight, m.weight_orig * m.weight_mask), name


def test_bit_width_fine_tune_keeps_an_snns_zeros():
    torch.manual_seed(0)
    model = build_model(CFG).train()
    with torch.no_grad():
        model.layers[0].synapse.weight[0] = 0
    with zeros_kept(model):
        fine_tune(model)
    assert bool((model.layers[0].synapse.weight[0] == 0).all())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("data") / "synth.h5",
                    SynthConfig(frames_per_pair=16, snrs=[20, 30], length=LENGTH), progress=False)


def test_prune_an_snn_checkpoint(data, tmp_path):
    torch.manual_seed(0)
    source = save_checkpoint(tmp_path / "snn.pth", build_model(CFG), CFG)
    run = tmp_path / "run"
    sets = ["prune.method=imp", "prune.rate=0.5", "prune.steps=1", "prune.criterion=absolute", "prune.min_acc=0",
            "prune.finetune_epochs=1", "train.max_batches=2", "data.batch_size=32", "train.threads=1"]
    assert main(["prune", str(source), "--data", str(data), "--out", str(run),
                 *[a for s in sets for a in ("--set", s)]]) == 0
    log = [json.loads(line) for line in (run / "prune_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1] and log[1]["sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert set(log[1]["layers"]) == {"layers.0.synapse", "layers.1.synapse"}  # the readout pruned too
    for r in log:
        assert set(r["spike_rates"]) == {"syn0"} and 0 <= r["spike_rates"]["syn0"] <= 1
        assert r["input_rate"] == pytest.approx(64 / 64)  # 64 samples a step over 8 x 8 cells
        assert r["score"] > 0  # scored as an SNN graph (export_snn + the SNN cost: LIF work included)
    assert log[1]["bops"] < log[0]["bops"]  # zero weights discounted
    report = json.loads((run / "prune_report.json").read_text())
    assert set(report["final"]["spike_rates"]) == {"syn0"}
    assert [set(k["spike_rates"]) for k in report["kept_steps"]] == [{"syn0"}, {"syn0"}]

    model, cfg, _ = load_model(run / "final_model.pth")  # plain weights with zeros, rebuilt with no flags
    assert cfg.name == "snn"
    zeros = sum(int((int_weight(l.synapse) == 0).sum()) for l in model.layers)
    assert zeros >= 0.5 * sum(l.synapse.weight.numel() for l in model.layers)


def test_the_pruning_score_of_an_snn_costs_its_lif_layers():
    from toolchain.compression.cost import model_cost

    torch.manual_seed(0)
    cost = model_cost(build_model(CFG), CFG)
    assert cost["unsupported"] == [] and cost["score"] > 0
