"""reduce_bits: a lowered bit width reaches the exported Quant nodes and the cost report, the sweep
table has a row per setting with and without fine-tuning, the kept model rebuilds with no flags,
bad settings are one-line errors. Tiny VGG10s on a tiny synthetic file."""

import json

import onnx
import pytest
from onnx import numpy_helper

from checks import assert_one_line_error
from toolchain.checkpoint import load_checkpoint, load_model
from toolchain.cli import main
from toolchain.config import SynthConfig
from toolchain.data.synth import generate

LENGTH = 128
SMALL = [f"model.input_length={LENGTH}", "model.filters=8", "model.dense=16", "data.batch_size=64",
         "train.threads=1", "train.max_batches=3"]
ANY_ACC = ["prune.criterion=absolute", "prune.min_acc=0"]
LAST_4 = "prune.bits_weight=[[8, 8, 8, 8, 8, 8, 8, 8, 8, 4]]"  # 7 conv + 3 linear, the classifier at 4 bits


def sets(*items):
    return [a for item in (*SMALL, *items) for a in ("--set", item)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "synth.h5"
    return generate(path, SynthConfig(frames_per_pair=16, snrs=[20, 30], length=LENGTH), progress=False)


@pytest.fixture(scope="module")
def initial(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("base")
    assert main(["train_initial", str(data), "--out", str(run), *sets("train.epochs=1")]) == 0
    return run / "initial_model.pth"


def reduce(data, model, out, *items):
    return main(["reduce_bits", str(model), "--data", str(data), "--out", str(out), *sets(*items)])


def quant_bits(onnx_path):
    """Bit width of every Quant node of a conv/linear weight (an initializer of 2+ dims; not the
    1-D bias), in graph order."""
    model = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [int(inits[n.input[3]]) for n in model.graph.node
            if n.op_type == "Quant" and n.input[0] in inits and inits[n.input[0]].ndim >= 2]


def cost(run):
    assert main(["export_onnx", "--out", str(run)]) == 0
    assert main(["export_inference_cost", "--out", str(run)]) == 0
    return quant_bits(run / "model_export.onnx"), json.loads((run / "model_cost.json").read_text())


def test_lowering_a_layer_to_4_bits_reaches_the_export_and_the_cost(data, initial, tmp_path):
    base, reduced = tmp_path / "base", tmp_path / "reduced"
    assert main(["export_onnx", str(initial), "--out", str(base)]) == 0
    assert main(["export_inference_cost", "--out", str(base)]) == 0
    base_bits = quant_bits(base / "model_export.onnx")
    base_cost = json.loads((base / "model_cost.json").read_text())
    assert reduce(data, initial, reduced, LAST_4, "prune.bits_finetune_epochs=0", *ANY_ACC) == 0
    cfg = load_checkpoint(reduced / "final_model.pth")["model_config"]
    assert cfg["layer_weight_bits"] == [8] * 9 + [4]
    bits, red_cost = cost(reduced)  # export_onnx reads final_model.pth with no flags
    assert base_bits[-1] == 8 and bits == base_bits[:-1] + [4]
    last_base, last = base_cost["layers"][-1], red_cost["layers"][-1]
    # Per non-zero weight (weights that quantize to zero are discounted, more of them at 4 bits):
    # 4 bits instead of 8 of memory, 4 x 8 instead of 8 x 8 bit operations per MAC (8-bit input).
    assert last_base["mem_w_bits"] == 8 * last_base["mem_w_elems"] and last["mem_w_bits"] == 4 * last["mem_w_elems"]
    assert last_base["bops"] == 64 * last_base["macs"] and last["bops"] == 32 * last["macs"]
    for key, total in (("mem_w_bits", "total_mem_w_bits"), ("bops", "total_bops")):
        assert red_cost[total] == base_cost[total] - last_base[key] + last[key]  # the other layers unchanged
    table = json.loads((reduced / "bits_sweep.json").read_text())
    assert table["rows"][0]["total_bops"] == red_cost["total_bops"]
    assert table["rows"][0]["score"] == pytest.approx(red_cost["score"])


def test_sweep_has_a_row_per_setting_with_and_without_fine_tune(data, initial, tmp_path):
    run = tmp_path / "run"
    assert reduce(data, initial, run, "prune.bits_weight=[[6], [5], [5, 5, 5, 5, 5, 5, 4, 5, 5, 5]]",
                  "prune.bits_act=[[6], [5], [5]]", "prune.score=false", *ANY_ACC) == 0
    table = json.loads((run / "bits_sweep.json").read_text())
    assert [r["label"] for r in table["rows"]] == ["w6a6", "w5a5", "w[5,5,5,5,5,5,4,5,5,5]a5"]
    assert all(r["untuned"]["val_acc"] is not None and r["finetuned"]["val_acc"] is not None for r in table["rows"])
    assert (run / "bits_sweep.png").stat().st_size > 0
    # Without scores the last setting meeting the criterion is kept, the fine-tuned copy on a tie.
    payload = load_checkpoint(run / "final_model.pth")
    assert payload["model_config"]["layer_weight_bits"] == [5] * 6 + [4, 5, 5, 5]
    assert payload["model_config"]["layer_act_bits"] == [5] * 9
    assert table["chosen"]["row"] == 2
    model, model_cfg, _ = load_model(run / "final_model.pth")
    assert model_cfg.layer_act_bits == [5] * 9
    assert main(["evaluate", "--out", str(run), "--data", str(data), *sets("eval.max_frames=64")]) == 0
    # The reduced model is not reduced again; the pruned/trained input stays where it was.
    rc = reduce(data, run / "final_model.pth", tmp_path / "again", "prune.bits_weight=[[4]]")
    assert rc == 1


def test_replacing_a_runs_final_model_keeps_it(data, initial, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "final_model.pth").write_bytes(initial.read_bytes())  # as a prune stage would leave it
    assert main(["reduce_bits", "--data", str(data), "--out", str(run),
                 *sets("prune.bits_weight=[[7]]", "prune.bits_finetune_epochs=0", "prune.score=false", *ANY_ACC)]) == 0
    assert (run / "unreduced_model.pth").read_bytes() == initial.read_bytes()
    assert load_checkpoint(run / "final_model.pth")["model_config"]["layer_weight_bits"] == [7] * 10


@pytest.mark.parametrize("items, needles", [
    ((), ["prune.bits_weight", "no bit-width settings"]),
    (("prune.bits_weight=[[5, 4]]",), ["prune.bits_weight[0]", "1 value", "10"]),
    (("prune.bits_weight=[[5]]", "prune.bits_act=[[5], [4]]"), ["prune.bits_act", "1 entries"]),
    (("prune.bits_weight=[[0]]",), ["prune.bits_weight", "1..16"]),
])
def test_bad_settings_are_one_line_errors(data, initial, tmp_path, capsys, items, needles):
    rc = reduce(data, initial, tmp_path / "run", *items)
    assert_one_line_error(rc, capsys.readouterr().err, *needles)
    assert not (tmp_path / "run").exists()


def test_no_setting_meeting_the_criterion_writes_the_table_but_no_model(data, initial, tmp_path, capsys):
    run = tmp_path / "run"
    rc = reduce(data, initial, run, "prune.bits_weight=[[2]]", "prune.bits_finetune_epochs=0", "prune.score=false",
                "prune.criterion=absolute", "prune.min_acc=1.0")
    assert_one_line_error(rc, capsys.readouterr().err, "no bit-width setting", "bits_sweep.json")
    assert (run / "bits_sweep.json").is_file() and not (run / "final_model.pth").exists()
