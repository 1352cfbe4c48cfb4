"""The SNN model: its float training forward equals the integer `lif_step` loop bit for bit,
gradients reach every weight, and train_initial trains it. Tiny networks; seconds on 2 cores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from toolchain.checkpoint import load_model
from toolchain.cli import main
from toolchain.config import ChannelConfig, ModelConfig, SynthConfig
from toolchain.data.synth import generate
from toolchain.models import build_model
from toolchain.snn.encoders import encode
from toolchain.snn.layers import int_weight
from toolchain.snn.lif import initial_state, li_step, lif_step

LENGTH = 128


def tiny(**kw) -> ModelConfig:
    base = dict(name="snn", input_length=LENGTH, snn_group=16, snn_resolution=8, snn_filters=[4, 4], snn_kernel=3,
                snn_threshold=40, weight_bits=6)
    return ModelConfig(**{**base, **kw})


def reference(model, spikes_in):
    """The same network on int64 numpy-free torch integers: currents from exact float64
    convolutions of the integer weights, neurons by `lif_step` / `li_step` on int64."""
    layers = model.layers
    weights = [int_weight(l.synapse).detach().double() for l in layers]
    states = [None] * len(layers)
    trace = [[] for _ in layers]
    for t in range(spikes_in.shape[1]):
        s = spikes_in[:, t].double()
        for i, layer in enumerate(layers):
            if i < len(layers) - 1:
                cur = F.conv2d(s, weights[i], padding=layer.synapse.padding)
            else:
                cur = F.linear(s.flatten(1), weights[i])
            cur = cur.round().long()
            states[i] = initial_state(cur) if states[i] is None else states[i]
            if layer.readout:
                v = li_step(cur, states[i].v, layer.params)
                states[i] = states[i]._replace(v=v)
                out = v
            else:
                out, states[i] = lif_step(cur, states[i], layer.params)
            trace[i].append(out)
            s = out.double()
    return trace, states[-1].v


@pytest.mark.parametrize("kw", [
    {}, dict(snn_reset="zero", snn_refractory=2, snn_leak_shift=1, snn_state_bits=10),
    dict(snn_readout="count", snn_binary=True), dict(snn_encoder="delta", snn_delta_step=0.2, snn_state_bits=12),
])
def test_forward_equals_integer_lif_loop(kw):
    torch.manual_seed(0)
    model = build_model(tiny(**kw))
    x = torch.randn(3, 2, LENGTH, generator=torch.Generator().manual_seed(1))
    spikes_in = encode(model.config, x)
    with torch.no_grad():
        v, counts, trace = model.run(spikes_in, record=True)
        logits = model(x)
    ref_trace, ref_v = reference(model, spikes_in)
    for layer, (got, want) in enumerate(zip(trace, ref_trace)):
        for t, (g, w) in enumerate(zip(got, want)):
            assert torch.equal(g.long(), w), f"layer {layer} step {t} differs"
    assert torch.equal(v.long(), ref_v)
    total = sum(float(s.sum()) for s in trace[0])
    assert total > 0, "the first layer never fires: the comparison above proves little"
    readout = counts if counts is not None else v
    assert torch.equal(logits.argmax(1), readout.argmax(1))  # the float scale never changes the answer
    rates = model.spike_rates()
    assert len(rates) == len(model.config.snn_filters) + (counts is not None)
    assert all(0.0 <= r <= 1.0 for r in rates.values())


@pytest.mark.parametrize("kw", [{}, dict(snn_surrogate="arctan", snn_bptt=2), dict(snn_readout="count")])
def test_gradients_reach_every_weight(kw):
    torch.manual_seed(0)
    model = build_model(tiny(**kw))
    x = torch.randn(8, 2, LENGTH, generator=torch.Generator().manual_seed(2))
    loss = F.cross_entropy(model(x), torch.arange(8) % 24)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_train_initial_trains_a_tiny_snn(tmp_path):
    data = generate(tmp_path / "synth.h5", SynthConfig(frames_per_pair=4, snrs=[20, 30], length=LENGTH,
                    channel=ChannelConfig(max_cfo=0.001, max_sro_ppm=50)), progress=False)
    sets = ["model.name=snn", f"model.input_length={LENGTH}", "model.snn_filters=[4]", "model.snn_kernel=3",
            "model.snn_resolution=8", "model.snn_group=32", "data.batch_size=32", "train.threads=1",
            "train.epochs=2", "train.max_batches=2", "train.lr=0.001"]
    assert main(["train_initial", str(data), "--out", str(tmp_path / "run"), *[a for s in sets for a in ("--set", s)]]) == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(np.isfinite(r["train_loss"]) for r in log)
    model, cfg, _ = load_model(tmp_path / "run" / "initial_model.pth")  # rebuilt from the checkpoint alone
    assert cfg.name == "snn" and cfg.snn_filters == [4]
    with torch.no_grad():
        assert model(torch.randn(2, 2, LENGTH)).shape == (2, 24)


def test_local_learning_keeps_gradients_within_a_layer_and_a_step():
    """Local learning: each hidden layer's weights learn only from its own fixed random readout,
    the readout only from the task loss; the forward (the integer network) is unchanged."""
    torch.manual_seed(0)
    model = build_model(tiny(snn_learning="local"))
    x = torch.randn(8, 2, LENGTH, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(8) % 24
    logits, local = model(x)
    steps, hidden = LENGTH // 16, len(model.layers) - 1
    assert len(local) == steps * hidden and local[0].shape == (8, 24)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), logits.detach())  # same network, only the gradient paths differ
    model.train()
    # The task loss alone reaches only the readout: no gradient crosses into the hidden layers.
    F.cross_entropy(model(x)[0], labels).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(grads[n] is None or grads[n].abs().sum() == 0 for n in grads if n.startswith("layers.0"))
    assert grads["layers.2.synapse.weight"].abs().sum() > 0
    model.zero_grad()
    # One hidden layer's local loss at one step reaches only that layer's weights.
    _, local = model(x)
    F.cross_entropy(local[hidden * 2 + 1], labels).backward()  # layer 1 at step 2
    assert model.layers[1].synapse.weight.grad.abs().sum() > 0
    assert model.layers[0].synapse.weight.grad is None or model.layers[0].synapse.weight.grad.abs().sum() == 0
    # The fixed readouts are buffers (saved, never trained) and the combined loss trains every layer.
    assert "local_readout0" in dict(model.named_buffers())
    model.zero_grad()
    model.training_loss(model(x), labels).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _input_gradient(model, spikes_in, labels):
    spikes_in = spikes_in.clone().requires_grad_(True)
    v, _, _ = model.run(spikes_in)
    F.cross_entropy(v * 1e-3, labels).backward()
    return spikes_in.grad, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_truncated_bptt_trains_every_step():
    """snn_bptt=N cuts the spiking layers' recurrences every N steps but keeps the readout's, so
    the first step's input still reaches the loss; N >= T is full BPTT, gradient for gradient."""
    x = torch.randn(4, 2, LENGTH, generator=torch.Generator().manual_seed(3))
    labels = torch.arange(4)
    grads = {}
    for bptt in (None, 4, 16, 40):
        torch.manual_seed(0)
        model = build_model(tiny(snn_group=8, snn_bptt=bptt))  # T = 16
        spikes_in = encode(model.config, x)
        assert spikes_in.shape[1] == 16 and spikes_in[:, 0].sum() > 0
        grads[bptt] = _input_gradient(model, spikes_in, labels)
    step0, _ = grads[4]
    assert step0[:, 0].abs().sum() > 0, "truncated BPTT leaves step 0 without gradient"
    assert not torch.equal(step0, grads[None][0])  # the truncation does cut something
    # Truncated, training recomputes each chunk in the backward pass: the same gradients as
    # keeping every activation (eval mode keeps them; the SNN has no mode-dependent layer).
    torch.manual_seed(0)
    model = build_model(tiny(snn_group=8, snn_bptt=4)).eval()
    kept = _input_gradient(model, encode(model.config, x), labels)
    assert torch.equal(kept[0], step0) and all(torch.equal(kept[1][n], g) for n, g in grads[4][1].items())
    for bptt in (16, 40):
        assert torch.equal(grads[bptt][0], grads[None][0])
        assert grads[bptt][1].keys() == grads[None][1].keys()
        assert all(torch.equal(grads[bptt][1][n], g) for n, g in grads[None][1].items())


def wide_model():
    """The widest settings the config allows (16-bit weights, 32-bit state), weights all at
    +-(2**15 - 1) (the readout's all positive) and no leak, so currents and membranes go far
    past float32's 2**24."""
    torch.manual_seed(0)
    model = build_model(tiny(weight_bits=16, snn_state_bits=32, snn_threshold=1 << 12, snn_leak_shift=0))
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for layer in model.layers[:-1]:
            layer.synapse.weight.copy_(torch.randint(0, 2, layer.synapse.weight.shape, generator=g) * 2.0 - 1)
        model.layers[-1].synapse.weight.fill_(1.0)
    return model


def test_wide_settings_stay_integer_exact(monkeypatch):
    from toolchain.snn.layers import LIFSynapse

    model = wide_model()
    assert {layer.dtype for layer in model.layers} == {torch.float64}
    assert build_model(tiny()).layers[0].dtype == torch.float32  # the usual settings keep float32
    spikes_in = encode(model.config, torch.randn(3, 2, LENGTH, generator=torch.Generator().manual_seed(1)))
    ref_trace, ref_v = reference(model, spikes_in)
    assert int(ref_v.abs().max()) > 1 << 24  # the check below is about values float32 cannot hold
    with torch.no_grad():
        v, _, trace = model.run(spikes_in, record=True)
        assert torch.equal(v.long(), ref_v)
        assert all(torch.equal(g.long(), w) for got, want in zip(trace, ref_trace) for g, w in zip(got, want))
        monkeypatch.setattr(LIFSynapse, "dtype", property(lambda self: torch.float32))  # what the rule avoids
        v32, _, _ = model.run(spikes_in)
    assert not torch.equal(v32.long(), ref_v)


@pytest.mark.gpu
@pytest.mark.parametrize("wide", [False, True])
def test_spikes_on_cuda_equal_those_on_the_cpu(wide):
    """cuDNN would run float32 convolutions in TF32 (11-bit operands) by default: the layers turn
    it off, so every spike and the readout are the CPU's, bit for bit, also at 16-bit weights."""
    model = wide_model() if wide else build_model(tiny(weight_bits=12, snn_threshold=1 << 10))
    spikes_in = encode(model.config, torch.randn(8, 2, LENGTH, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        v, _, trace = model.run(spikes_in, record=True)
        model.cuda()
        v_gpu, _, trace_gpu = model.run(spikes_in.cuda(), record=True)
    assert torch.equal(v, v_gpu.cpu())
    for layer, (cpu, gpu) in enumerate(zip(trace, trace_gpu)):
        assert all(torch.equal(a, b.cpu()) for a, b in zip(cpu, gpu)), f"layer {layer}"
    assert sum(float(s.sum()) for s in trace[0]) > 0


def test_exact_float_turns_tf32_off_inside_only():
    from toolchain.snn.layers import _fp32_switches, exact_float

    before = [getattr(obj, name) for obj, name, _ in _fp32_switches()]
    with exact_float(torch.device("cuda")):  # flags only: no GPU needed to set them
        assert [getattr(obj, name) for obj, name, _ in _fp32_switches()] == [v for _, _, v in _fp32_switches()]
    assert [getattr(obj, name) for obj, name, _ in _fp32_switches()] == before


@pytest.mark.parametrize("learning", ["local", "bptt"])
def test_rate_penalty_reaches_each_layers_weights(learning):
    """The spike-activity term alone has a gradient on every hidden layer's weights; with local
    learning a layer's term reaches only that layer (its own loss), with BPTT the terms are summed."""
    torch.manual_seed(0)
    model = build_model(tiny(snn_learning=learning, snn_rate_penalty=2.0))
    x = torch.randn(8, 2, LENGTH, generator=torch.Generator().manual_seed(2))
    model(x)
    rates = model.layer_rates()
    penalty = model.rate_penalty()
    assert torch.allclose(penalty.detach(), 2.0 * rates[:-1].sum())
    assert 0 < float(rates[0]) < 1 and 0 < float(rates[1]) < 1, "a silent or saturated layer proves little"
    penalty.backward()
    for layer in model.layers[:-1]:
        assert layer.synapse.weight.grad is not None and layer.synapse.weight.grad.abs().sum() > 0
    readout_grad = model.layers[-1].synapse.weight.grad
    assert readout_grad is None or readout_grad.abs().sum() == 0  # the readout's membrane is not a spike rate
    model.zero_grad()
    model(x)
    model._rates_grad[1].backward()  # layer 1's term alone
    first = model.layers[0].synapse.weight.grad
    crossed = first is not None and first.abs().sum() > 0
    assert crossed == (learning == "bptt")
    # A target above every rate costs nothing.
    model = build_model(tiny(snn_learning=learning, snn_rate_penalty=2.0, snn_rate_target=0.99))
    model(x)
    assert float(model.rate_penalty().detach()) == 0.0


def _train_tiny(tmp_path, name, *extra):
    data = tmp_path / "synth.h5"
    if not data.exists():
        generate(data, SynthConfig(frames_per_pair=4, snrs=[20, 30], length=LENGTH,
                 channel=ChannelConfig(max_cfo=0.001, max_sro_ppm=50)), progress=False)
    sets = ["model.name=snn", f"model.input_length={LENGTH}", "model.snn_filters=[4, 4]", "model.snn_kernel=3",
            "model.snn_resolution=8", "model.snn_group=16", "model.snn_threshold=40", "model.snn_learning=local",
            "data.batch_size=32", "train.threads=1", "train.epochs=2", "train.max_batches=4", "train.lr=0.01", *extra]
    assert main(["train_initial", str(data), "--out", str(tmp_path / name), *[a for s in sets for a in ("--set", s)]]) == 0
    model, _, _ = load_model(tmp_path / name / "initial_model.pth")
    model.eval()
    with torch.no_grad():
        model(torch.randn(64, 2, LENGTH, generator=torch.Generator().manual_seed(3)))
    return model


def test_rate_penalty_zero_trains_bit_identically_and_larger_lowers_rates(tmp_path):
    base = _train_tiny(tmp_path, "base")
    zero = _train_tiny(tmp_path, "zero", "model.snn_rate_penalty=0", "model.snn_rate_target=0.5")
    for (name, a), b in zip(base.state_dict().items(), zero.state_dict().values()):
        assert torch.equal(a, b), name
    penalised = _train_tiny(tmp_path, "penalised", "model.snn_rate_penalty=5")
    before, after = base.layer_rates()[:-1], penalised.layer_rates()[:-1]
    assert float(before.min()) > 0.02, before
    assert (after < 0.7 * before).all(), (before, after)


def test_rate_penalty_keys_are_checked():
    from toolchain.errors import ConfigError
    for kw, key_name in ((dict(snn_rate_penalty=-1.0), "snn_rate_penalty"), (dict(snn_rate_penalty=float("nan")),
                         "snn_rate_penalty"), (dict(snn_rate_target=1.0), "snn_rate_target")):
        with pytest.raises(ConfigError, match=f"model.{key_name}"):
            tiny(**kw)
