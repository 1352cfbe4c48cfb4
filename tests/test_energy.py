"""Energy report and SNN evaluation: spike rates and SynOps against a hand computation on a
one-weight SNN, rates accumulated over batches (not the last one), the files `evaluate` writes
for an SNN checkpoint, and none of them for a CNN. Tiny models; seconds on 2 cores."""

import json

import numpy as np
import pytest
import torch

from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig, SynthConfig
from toolchain.data.synth import generate
from toolchain.models import build_model
from toolchain.reports.energy import ENERGY_TABLE, energy_report, layer_geometry
from toolchain.snn.layers import int_weight
from toolchain.snn.rates import SpikeMeter

LENGTH = 128
E_BIT = 10.0 / 64  # pJ per SRAM bit (8 kB SRAM, 64-bit read = 10 pJ)


def one_weight_snn():
    """Constellation 4 x 4 (16 input neurons), 64 samples a step (T = 2) -> one 1x1 conv filter
    -> 16 -> 24 membrane readout. The conv's single weight quantizes to 31 whatever its value
    (scale = max|w| / 31 at 6 bits)."""
    cfg = ModelConfig(name="snn", input_length=LENGTH, snn_group=64, snn_resolution=4, snn_filters=[1],
                      snn_kernel=1, snn_threshold=2000, weight_bits=6)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.layers[0].synapse.weight.fill_(0.3)
    assert int_weight(model.layers[0].synapse).item() == 31
    return model


def frame_in_one_cell():
    """Every sample at (0.5, 0.5): 64 spikes a step in one cell -> current 64 x 31 = 1984 a step;
    step 0: v = 1984 < 2000; step 1: 1984 - (1984 >> 4) + 1984 = 3844 >= 2000: one spike."""
    return torch.full((1, 2, LENGTH), 0.5)


def frame_spread():
    """The 64 samples of a step spread over the 16 cells, 4 each: 124 a step, never 2000."""
    levels = torch.tensor([-1.5, -0.5, 0.5, 1.5])
    i = levels.repeat(LENGTH // 4)
    q = levels.repeat_interleave(4).repeat(LENGTH // 16)
    return torch.stack([i, q])[None]


def test_rates_and_synops_against_a_hand_computation():
    model = one_weight_snn()
    with SpikeMeter(model) as meter, torch.no_grad():
        model(frame_in_one_cell())  # batch of 1 frame: syn0 fires once in 16 neurons x 2 steps
        model(frame_spread().repeat(3, 1, 1))  # batch of 3 frames: silent
    assert model.spike_rates() == {"lif0": 0.0}  # the last forward pass alone would say "silent"
    measured = meter.rates()
    assert measured["frames"] == 4
    assert measured["input_rate"] == 4.0  # 64 spikes a step over 16 input neurons, every frame
    assert measured["spike_rates"] == {"syn0": pytest.approx((1 * 1 / 32 + 3 * 0) / 4), "syn1": None}

    geometry = layer_geometry(model)
    report = energy_report(geometry, measured["input_rate"], list(measured["spike_rates"].values()),
                           measured["frames"], "int8")
    syn0, syn1 = report["layers"]
    assert (syn0["name"], syn0["kind"], syn0["neurons"], syn0["macs_per_step"]) == ("syn0", "conv", 16, 16)
    assert (syn1["name"], syn1["kind"], syn1["neurons"], syn1["macs_per_step"]) == ("syn1", "linear", 24, 16 * 24)
    assert syn0["input_rate"] == 4.0 and syn0["synops_per_step"] == 64.0  # 64 input spikes x fan-out 1
    assert syn1["input_rate"] == pytest.approx(1 / 128) and syn1["synops_per_step"] == pytest.approx(3.0)
    assert syn1["spike_rate"] is None  # a membrane readout never fires
    assert [layer["state_updates_per_step"] for layer in report["layers"]] == [16, 24]
    assert report["steps"] == 2 and report["totals"]["synops_per_frame"] == pytest.approx(2 * (64 + 3))
    assert report["totals"]["cnn_macs_per_frame"] == 16 + 384  # once per frame, not per step

    e = report["totals"]["energy"]
    add, mac = ENERGY_TABLE["int8"]["add"], ENERGY_TABLE["int8"]["mac"]
    assert (add, mac) == (0.03, 0.23)
    assert e["snn_compute_pj"] == pytest.approx(2 * (64 + 16) * add + 2 * (3 + 24) * add)  # 6.42
    assert e["cnn_compute_pj"] == pytest.approx(400 * mac)  # 92
    # weights read per synop / MAC (6 bits), 24-bit state read + written per update
    assert e["snn_memory_pj"] == pytest.approx(2 * ((64 + 3) * 6 + (16 + 24) * 2 * 24) * E_BIT)
    assert e["cnn_memory_pj"] == pytest.approx(400 * 6 * E_BIT)
    assert report["totals"]["ratio_snn_cnn"] == pytest.approx(e["snn_total_pj"] / e["cnn_total_pj"])
    assert report["totals"]["ratio_snn_cnn_compute"] == pytest.approx(6.42 / 92)
    fp32 = energy_report(geometry, 4.0, [1 / 128, None], 4, "fp32")
    assert fp32["totals"]["energy"]["cnn_compute_pj"] == pytest.approx(400 * 4.6)


def test_geometry_of_a_padded_conv_stack():
    cfg = ModelConfig(name="snn", input_length=LENGTH, snn_filters=[4, 3], snn_kernel=3, snn_resolution=8,
                      snn_group=64, layer_weight_bits=[4, 5, 6])
    g = layer_geometry(build_model(cfg))
    assert [x["macs_per_step"] for x in g] == [64 * 4 * 1 * 9, 64 * 3 * 4 * 9, 192 * 24]
    assert [x["neurons"] for x in g] == [256, 192, 24] and [x["weight_bits"] for x in g] == [4, 5, 6]
    assert [x["output_shape"] for x in g] == [[4, 8, 8], [3, 8, 8], [24]]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "synth.h5"
    return generate(path, SynthConfig(frames_per_pair=2, snrs=[10, 30], length=LENGTH), progress=False)


def checkpoint(path, cfg):
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model(torch.randn(4, 2, LENGTH))  # ends Brevitas' statistics phase, so the state_dict is complete
    return save_checkpoint(path, model.eval(), cfg)


def test_evaluate_writes_rates_energy_and_raster_for_an_snn(data, tmp_path, capsys):
    cfg = ModelConfig(name="snn", input_length=LENGTH, snn_filters=[4], snn_kernel=3, snn_resolution=8,
                      snn_group=16, snn_threshold=20, weight_bits=6)
    ckpt = checkpoint(tmp_path / "snn.pth", cfg)
    run = tmp_path / "run"
    # batch 7 over 48 frames: 7 batches, the last one short; the rates must cover them all
    assert main(["evaluate", str(ckpt), "--data", str(data), "--out", str(run), "--set", "eval.device=cpu",
                 "--set", "eval.batch_size=7"]) == 0
    out = capsys.readouterr().out
    assert "spike rates" in out and "SNN/CNN" in out
    doc = json.loads((run / "accuracy.json").read_text())
    report = json.loads((run / "energy_report.json").read_text())
    assert set(doc["spike_rates"]) == {"syn0"} and 0 < doc["spike_rates"]["syn0"] < 1
    assert doc["input_rate"] == pytest.approx(16 / 64)  # 16 samples a step over 8 x 8 cells
    assert report["frames"] == doc["data"]["frames_evaluated"] == 48 and report["steps"] == 8
    assert [layer["name"] for layer in report["layers"]] == ["syn0", "syn1"]
    assert report["layers"][0]["spike_rate"] == pytest.approx(doc["spike_rates"]["syn0"])
    assert report["layers"][1]["input_rate"] == pytest.approx(doc["spike_rates"]["syn0"])
    for layer in report["layers"]:
        assert layer["synops_per_step"] == pytest.approx(layer["input_rate"] * layer["macs_per_step"])

    # the same rates from an independent pass over the same 48 frames in one batch
    from toolchain.checkpoint import load_model
    from toolchain.data.dataset import RadioMLDataset

    ds = RadioMLDataset.splits(data)["test"]
    x, _, _ = ds.read(np.arange(len(ds)))
    model, _, _ = load_model(ckpt)
    with torch.no_grad():
        model(torch.from_numpy(x))
    assert model.spike_rates()["lif0"] == pytest.approx(doc["spike_rates"]["syn0"], rel=1e-5)

    for png in ("energy_report.png", "spike_raster.png", "accuracy_vs_snr.png"):
        assert (run / png).read_bytes().startswith(b"\x89PNG")
    outputs = json.loads((run / "manifest.json").read_text())["stages"]["evaluate"]["outputs"]
    assert set(outputs.values()) >= {"energy_report.json", "energy_report.png", "spike_raster.png"}


def test_evaluate_of_a_cnn_writes_no_energy_report(data, tmp_path):
    cfg = ModelConfig(input_length=LENGTH, filters=8, dense=16)
    ckpt = checkpoint(tmp_path / "cnn.pth", cfg)
    run = tmp_path / "run"
    assert main(["evaluate", str(ckpt), "--data", str(data), "--out", str(run), "--set", "eval.device=cpu"]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["accuracy.json", "accuracy_vs_snr.png", "confusion_matrix.png",
                                                     "manifest.json"]
    assert "spike_rates" not in json.loads((run / "accuracy.json").read_text())
