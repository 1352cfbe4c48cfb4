"""The SNN hardware path end to end: `toolchain run --config build/snn-radioml/pipeline.yaml`
(synthetic data -> SNN training -> evaluate -> QONNX export -> cost -> finn_build), shrunk to CI
size, with the shipped build folder; and a build whose QONNX disagrees with its checkpoint fails
and keeps nothing. Without Vivado the build stops after HW code generation (exit 0)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import onnx
import pytest
from onnx import helper as oh

from toolchain.cli import main
from toolchain.data.dataset import RadioMLDataset

REPO = Path(__file__).parents[1]
PIPELINE = REPO / "build" / "snn-radioml" / "pipeline.yaml"
# The pipeline's network (2 x 16 filters 5x5, T = 16: the shipped folding applies) on an 8 x 8
# plane, trained for two batches on a small file: what is checked is the flow, not accuracy.
SHRINK = ["synth.frames_per_pair=2", "synth.snrs=[0,10,20,30]", "model.snn_resolution=8", "train.epochs=1",
          "train.max_batches=2", "data.batch_size=32", "export.verify_inputs=2", "finn.verify_inputs=1",
          "finn.verify_synthetic=1"]


@pytest.fixture(scope="module")
def pipeline_run(finn_env, tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not found: the LIF kernels' C simulation needs it")
    out = tmp_path_factory.mktemp("snn") / "run"
    args = ["run", "--config", str(PIPELINE), "--out", str(out), *[a for s in SHRINK for a in ("--set", s)]]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(args) == 0
    return out, printed.getvalue()


def test_pipeline_runs_every_stage_and_the_build_is_bit_exact(pipeline_run):
    out, printed = pipeline_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"data", "train_initial", "evaluate", "export_onnx", "export_inference_cost", "finn_build"} <= \
        set(manifest["stages"])
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    check = report["verification"]
    assert check["passed"] and check["time_steps"] == 16
    assert check["mismatches"] == {"pytorch": 0, "lowered": 0, "hw": 0}
    csim = check["csim"]
    assert csim["ran"] and csim["mismatches"] == 0 and len(csim["layers"]) == 3 and csim["values"] > 0
    assert "C simulation of 3 LIF kernels" in printed
    # the whole event-driven accelerator of the same checkpoint, C-simulated on the run's test split
    ev = report["event_driven"]
    split = RadioMLDataset.splits(out / "synthetic.h5", require_train=False)["test"]
    assert ev["mapped"] and ev["passed"] and ev["frames"] == len(split) > 2
    assert ev["frames_source"] == {"file": str(out / "synthetic.h5"), "split": "test", "frames_in_split": len(split)}
    assert ev["check"]["frames"] == len(split)
    assert check["accelerator_csim"]["check"]["class_mismatches"] == 0
    assert ev["cycles_per_frame"]["median"] <= ev["cycles_per_frame"]["worst"] <= ev["bound_cycles_per_frame"]
    assert set(ev["fifo_depths"]) == {"encoder->conv0", "conv0->conv1", "conv1->dense0"}
    assert ev["resources"]["dsp"] == 0 and ev["resources"]["lut"] > 0
    assert f"event-driven accelerator C-simulated bit exact on {len(split)} frames of the test split" in printed
    assert ev["streamed_cycles_per_frame"]["with_depths"] >= ev["cycles_per_frame"]["median"] * 0.5
    assert (out / "finn_output" / "event_driven.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spike_synapses_need_no_dsp_and_the_frame_is_t_steps(pipeline_run):
    out, _ = pipeline_run
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    rows = {r["layer"]: r for r in report["layers"]}
    assert [r["op_type"] for r in report["layers"] if r["layer"].endswith(".lif")] == ["LIF_hls"] * 3
    # The layers after the first take 1-bit spikes: accumulate only, no DSP.
    assert rows["conv1.mvau"]["DSP"] == 0 and rows["dense0.mvau"]["DSP"] == 0
    # the membrane state sits in BRAM or, where the folding makes its banks shallow, in LUTRAM
    assert all(rows[k]["LUT"] > 0 and rows[k]["FF"] > 0 for k in ("conv0.lif", "conv1.lif"))
    assert report["totals"]["resources"]["FF"]["estimate"] > 0 and not report["totals"]["resources"]["FF"]["complete"]
    totals = report["totals"]
    assert totals["time_steps"] == 16
    assert totals["cycles_per_frame"] == 16 * totals["cycles_per_step"] == 16 * max(r["cycles"] for r in rows.values())
    model = onnx.load(str(out / "finn_output" / "intermediate_models" / "step_snn_to_hw.onnx"))
    spike_mvaus = [n for n in model.graph.node if n.op_type == "MVAU"][1:]
    types = [oh.get_attribute_value(a) for n in spike_mvaus for a in n.attribute if a.name == "inputDataType"]
    assert types == [b"BINARY", b"BINARY"]


def test_spike_mvaus_are_their_own_op_and_get_their_weight_memory(pipeline_run):
    out, _ = pipeline_run
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    ops = {r["layer"]: r["op_type"] for r in report["layers"] if r["layer"].endswith(".mvau")}
    assert ops == {"conv0.mvau": "MVAU_hls", "conv1.mvau": "MVAU_spike_hls", "dense0.mvau": "MVAU_spike_hls"}
    # FINN writes the decoupled weight memory only for ops it knows by name: the renamed op too.
    gen = out / "finn_output" / "code_gen"
    for kind in ("MVAU_hls", "MVAU_spike_hls"):
        wrappers = list(gen.glob(f"code_gen_ipgen_{kind}_*/{kind}_*_memstream_wrapper.v"))
        assert wrappers and all("memstream" in w.read_text() for w in wrappers), kind
    spike_tops = list(gen.glob("code_gen_ipgen_MVAU_spike_hls_*/top_MVAU_spike_hls_*.cpp"))
    assert spike_tops and all("Slice<ap_uint<1>>" in t.read_text() for t in spike_tops)


def test_generated_lif_code_compiles(pipeline_run):
    out, _ = pipeline_run
    from toolchain.hw.snn.csim import ap_types_dir

    tops = sorted((out / "finn_output" / "code_gen").glob("code_gen_ipgen_LIF_hls_*/top_LIF_hls_*.cpp"))
    assert len(tops) == 3
    for top in tops:
        res = subprocess.run(["g++", "-std=c++14", "-fsyntax-only", f"-I{ap_types_dir()}", f"-I{top.parent}",
                              str(top)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[:2000]


def test_cost_and_energy_reports_agree_on_operations(pipeline_run):
    out, _ = pipeline_run
    cost = json.loads((out / "model_cost.json").read_text())
    energy = json.loads((out / "energy_report.json").read_text())
    by_name = {layer["name"]: layer for layer in cost["layers"]} if isinstance(cost["layers"], list) else cost["layers"]
    for layer in energy["layers"]:
        mine = by_name[layer["name"]]
        assert mine["macs_per_step"] == layer["macs_per_step"]
        assert mine["neurons"] == layer["neurons"]
        assert mine["state_updates_per_step"] == layer["state_updates_per_step"]


def test_a_qonnx_model_that_disagrees_with_its_checkpoint_fails_and_keeps_nothing(pipeline_run, tmp_path):
    out, _ = pipeline_run
    model = onnx.load(str(out / "model_export.onnx"))
    lif = next(n for n in model.graph.node if n.op_type == "LIF")
    for attr in lif.attribute:
        if attr.name == "threshold":
            attr.i += 1
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    args = ["finn_build", str(bad), "--build", str(REPO / "build" / "snn-radioml"), "--out", str(tmp_path / "b"),
            "--checkpoint", str(out / "initial_model.pth"), "--set", "finn.verify_inputs=1",
            "--set", "finn.verify_synthetic=1"]
    assert main(args) == 1
    assert not (tmp_path / "b" / "finn_output").exists()


def test_evaluating_the_snn_qonnx_points_to_the_checkpoint(pipeline_run, tmp_path, capsys):
    from checks import assert_one_line_error

    out, _ = pipeline_run
    rc = main(["evaluate", str(out / "model_export.onnx"), "--data", str(out / "synthetic.h5"), "--out", str(tmp_path)])
    assert_one_line_error(rc, capsys.readouterr().err, "encoded spike counts", "checkpoint (.pth)")


def test_event_driven_section_without_a_data_file_runs_the_verification_frames(pipeline_run, tmp_path):
    from toolchain.hw.snn import accel_report

    out, _ = pipeline_run
    ev = accel_report.evaluate(out / "initial_model.pth", None, tmp_path, n_random=2, n_synthetic=1, seed=0)
    assert ev["passed"] and ev["frames"] == 3 and ev["frames_source"]["kind"].startswith("verification frames")
    assert "on 3 frames of the verification frames" in accel_report.summary_line(ev)


def test_event_driven_frames_spread_over_the_test_split(pipeline_run):
    from toolchain.config import load_config
    from toolchain.stages.finn_build import _test_frames

    out, _ = pipeline_run
    split = RadioMLDataset.splits(out / "synthetic.h5", require_train=False)["test"]
    cfg = load_config(None, ["finn.event_driven_frames=3"])
    frames = _test_frames(cfg, out / "synthetic.h5")
    x, _, _ = split.read([0, round((len(split) - 1) / 2), len(split) - 1])  # first, middle, last
    assert frames.x.shape == (3, 2, 1024) and (frames.x == x).all()
    assert frames.source["frames_in_split"] == len(split)


@pytest.mark.parametrize("problem", ["missing", "frame length"])
def test_a_bad_data_file_is_a_one_line_error_before_any_work(pipeline_run, tmp_path, capsys, problem):
    from checks import assert_one_line_error
    from radioml_files import write_radioml

    out, _ = pipeline_run
    data = tmp_path / "data.h5"
    if problem == "frame length":
        write_radioml(data, per_block=2, length=512)
    rc = main(["finn_build", str(out / "model_export.onnx"), "--build", str(REPO / "build" / "snn-radioml"),
               "--checkpoint", str(out / "initial_model.pth"), "--data", str(data), "--out", str(tmp_path / "b")])
    named = ("data.path", "data.h5") if problem == "missing" else ("frames of 512 samples", "takes 1024")
    assert_one_line_error(rc, capsys.readouterr().err, *named)
    assert not (tmp_path / "b" / "finn_output").exists()
