"""The SNN hardware path end to end: `toolchain run --config build/snn-radioml/pipeline.yaml`
(synthetic data -> SNN training -> evaluate -> QONNX export -> cost -> finn_build), shrunk to CI
size, with the shipped build folder (the event-driven kernels' HW ops); the same QONNX alone (no
checkpoint) through the default build, and through the dense build folder
build/snn-radioml-dense (FINN's MVAUs + LIF_hls); a build whose QONNX disagrees with its
checkpoint, or that the kernels cannot map, fails and keeps nothing. Without Vivado the build
stops after HW code generation (exit 0)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import onnx
import pytest
from onnx import helper as oh

from checks import report_sections
from toolchain.cli import main
from toolchain.data.dataset import RadioMLDataset
from toolchain.errors import ToolchainError

REPO = Path(__file__).parents[1]
DENSE = REPO / "build" / "snn-radioml-dense"
PIPELINE = REPO / "build" / "snn-radioml" / "pipeline.yaml"
# The pipeline's network (2 x 16 filters 5x5, T = 16: the shipped folding applies) on an 8 x 8
# plane, trained for two batches on a small file: what is checked is the flow, not accuracy.
SHRINK = ["synth.frames_per_pair=2", "synth.snrs=[0,10,20,30]", "model.snn_resolution=8", "train.epochs=1",
          "train.max_batches=2", "data.batch_size=32", "export.verify_inputs=2", "finn.verify_inputs=1",
          "finn.verify_synthetic=1", "capture.frames_per_segment=1", "finn.event_driven_rtl=false"]
# (the RTL measurement adds ~2 min of Verilator builds: test_finn_build_measures_the_stitched_rtl, slow)


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


def _build(onnx_file: Path, folder: Path, out: Path, checkpoint: Path | None = None,
           style: str | None = None) -> tuple[int, str]:
    # finn.event_driven_rtl off as in SHRINK: the RTL measurement (5 Verilator builds, ~1 min of a core
    # with cold caches) is test_finn_build_measures_the_stitched_rtl's (slow) and test_snn_rtl_measure.py's
    args = ["finn_build", str(onnx_file), "--build", str(folder), "--out", str(out), "--set", "finn.verify_inputs=1",
            "--set", "finn.verify_synthetic=1", "--set", "finn.event_driven_rtl=false"] + \
        (["--checkpoint", str(checkpoint)] if checkpoint else []) + \
        (["--set", f"finn.event_impl_style={style}"] if style else [])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(args)
    return rc, printed.getvalue()


@pytest.fixture(scope="module")
def dense_run(pipeline_run, tmp_path_factory):
    """The pipeline's QONNX and checkpoint through the dense build folder."""
    out, _ = pipeline_run
    dense = tmp_path_factory.mktemp("dense")
    rc, printed = _build(out / "model_export.onnx", DENSE, dense, out / "initial_model.pth")
    assert rc == 0
    return dense, printed


def test_pipeline_runs_every_stage_and_the_default_build_is_event_driven_and_bit_exact(pipeline_run):
    out, printed = pipeline_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"data", "train_initial", "evaluate", "export_onnx", "export_inference_cost", "finn_build"} <= \
        set(manifest["stages"])
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    check = report["verification"]
    assert check["passed"] and check["event_driven"] and check["time_steps"] == 16
    # PyTorch is the reference; the QONNX, FINN's Python execution of the HW graph and the C
    # simulation generated from it give the same class and final membranes on every frame
    assert check["mismatches"] == {"qonnx": 0, "hw": 0, "csim": 0} and check["inputs"] == 3
    assert check["csim"]["bad_frames"] == 0 and not any(check["csim"]["cycle_formula_mismatches"].values())
    assert "verification passed: 3 I/Q frames" in printed
    # the report's layers are the kernels' ops, their cycles per frame, with no DSP
    assert [(r["layer"], r["op_type"]) for r in report["layers"]] == [
        ("input.encoder", "ConstellationEncoder_rtl"), ("conv0.spiking_conv", "SpikingConv_rtl"),
        ("conv1.spiking_conv", "SpikingConv_rtl"), ("dense0.spiking_dense", "SpikingDense_rtl")]
    totals = report["totals"]
    assert "time_steps" not in totals and totals["cycles_per_frame"] == max(r["cycles"] for r in report["layers"])
    assert totals["resources"]["DSP"]["estimate"] == 0 and totals["resources"]["LUT"]["complete"]
    # each kernel's cycles: measured activity on the verification frames, within the guaranteed bound
    ev = report["event_driven"]
    assert ev["mapped"] and ev["passed"]
    for row in report["layers"][1:]:
        assert row["cycles"] <= row["bound_cycles"] == ev["bound_per_kernel"][row["layer"].split(".")[0]]
    assert report["layers"][0]["cycles"] == 1024 + 1  # the encoder: a sample per cycle, the FRAME word
    # the cycle distribution and FIFO depths: over the run's data file's whole test split
    split = RadioMLDataset.splits(out / "synthetic.h5", require_train=False)["test"]
    assert ev["frames"] == ev["check"]["frames"] == len(split) > 3
    assert ev["frames_source"] == {"file": str(out / "synthetic.h5"), "split": "test", "frames_in_split": len(split)}
    assert ev["cycles_per_frame"]["median"] <= ev["cycles_per_frame"]["worst"] <= ev["bound_cycles_per_frame"]
    assert set(ev["fifo_depths"]) == {"encoder->conv0", "conv0->conv1", "conv1->dense0"}
    # the depths travel in the HW graph (FINN's in/outFIFODepths) the Vivado steps resume from
    from qonnx.core.modelwrapper import ModelWrapper

    from toolchain.hw.snn.event import accel_rtl

    hw = max((out / "finn_output" / "intermediate_models").glob("*.onnx"), key=lambda p: p.stat().st_mtime)
    assert accel_rtl.graph_fifo_depths(ModelWrapper(str(hw))) == list(ev["fifo_depths"].values())
    assert ev["resources"]["dsp"] == 0 and ev["resources"]["lut"] > 0
    assert f"event-driven accelerator C-simulated bit exact on {len(split)} frames of the test split" in printed
    assert ev["streamed_cycles_per_frame"]["with_depths"] >= ev["cycles_per_frame"]["median"] * 0.5
    assert (out / "finn_output" / "event_driven.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pipeline_classifies_the_known_capture_and_sums_up_the_accelerator(pipeline_run):
    """`make demo-snn`: the capture of known modulations through the event-driven build, and the
    summary's accelerator lines labelled by how each figure was obtained, with the board's share."""
    out, printed = pipeline_run
    entry = json.loads((out / "manifest.json").read_text())["stages"]["classify"]["classify"]
    assert entry["model"] == str(out / "finn_output") and "event-driven" in entry["engine"]
    known = entry["known_classes"]
    assert known["frames"] == 24 and len(known["per_class"]) == 24
    summary = printed.split("== summary\n", 1)[1]
    assert f"{known['agreeing']}/24 frames agree with the recording's known classes" in summary
    event = json.loads((out / "finn_output" / "finn_report.json").read_text())["event_driven"]
    fps = 250e6 / event["cycles_per_frame"]["median"]
    assert f"{fps:,.0f} frames/s (C-simulated cycle counts, median of {event['frames']} test frames" in summary
    lut = event["resources"]["lut"]
    assert f"LUT {lut:,.6g} ({100 * lut / 230400:.1f} % of 230,400)" in summary
    assert "DSP 0 (0.0 % of 1,728)" in summary and "analytic estimates of the project's kernels" in summary


def test_the_run_report_shows_the_snn_build_labelled_by_how_each_figure_was_obtained(pipeline_run):
    """`toolchain run` ends with report.html: the FINN section's estimates, the event-driven
    accelerator's C-simulated cycles and histogram, the SNN's spike rates and energy."""
    out, printed = pipeline_run
    assert "== report" in printed
    found = report_sections((out / "report.html").read_text())
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    finn, totals, ev = found["finn_build"], report["totals"], report["event_driven"]
    assert f"{totals['cycles_per_frame']:,} cycles per frame" in finn
    highlighted = re.search(r'<tr class="highlight">(.*?)</tr>', finn, re.S).group(1)
    assert totals["bottleneck"].split(" ")[0] in highlighted  # the rate-bounding layer's row
    assert "how-estimate" in finn and "how-C-simulated" in finn
    assert "how-RTL-simulated" not in finn and "how-synthesized" not in finn  # no Vivado here, none claimed
    assert f"median {ev['cycles_per_frame']['median']:,.0f}" in finn and finn.count("<img ") == 2
    assert "cycles per frame over the test frames" in finn
    evaluate = found["evaluate"]
    rates = json.loads((out / "accuracy.json").read_text())["spike_rates"]
    assert "Spike rates and energy per layer" in evaluate and f"{100 * rates['syn0']:.2f} %" in evaluate
    assert "energy per frame" in evaluate and evaluate.count("<img ") == 4


def test_the_default_build_writes_each_kernels_rtl_and_the_stitched_vivado_project(pipeline_run):
    """finn.event_impl_style = rtl (the default): FINN's step_hw_codegen ran each `_rtl` node's
    generate_hdl (the kernel's .sv, the wrapper, the $readmemh ROMs), and finn_output/rtl_project
    holds the stitched accelerator at the build's FIFO depths, lint clean, for Vivado without FINN."""
    from qonnx.core.modelwrapper import ModelWrapper

    from checks import require_tool
    from toolchain.hw.rtl import verilator
    from toolchain.hw.snn.event import accel_rtl, event_graph

    from qonnx.custom_op.registry import getCustomOp

    out, printed = pipeline_run
    code = out / "finn_output" / "code_gen"
    assert not list(code.glob("code_gen_ipgen_*/top_*.cpp"))  # no HLS kernel was generated
    hw = max((out / "finn_output" / "intermediate_models").glob("*.onnx"), key=lambda p: p.stat().st_mtime)
    graph = ModelWrapper(str(hw))
    assert [n.op_type for n in graph.graph.node] == ["ConstellationEncoder_rtl", "SpikingConv_rtl", "SpikingConv_rtl",
                                                     "SpikingDense_rtl"]
    for node in graph.graph.node:
        d = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen"))
        wrapper = d / f"{node.name}_wrapper.sv"
        assert d.parent == code and wrapper.is_file() and f"module {node.name} (" in wrapper.read_text()
        assert any(p.suffix == ".sv" and p != wrapper for p in d.iterdir())
        # the convs' and the readout's weight ROMs ($readmemh files) beside their sources
        assert bool(list(d.glob("*.hex"))) == (node.op_type != "ConstellationEncoder_rtl")
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    assert report["code"]["rtl_project"] == "rtl_project" and report["code"]["rtl"] >= 8
    project = out / "finn_output" / "rtl_project"
    listed = (project / "snn_accel.f").read_text().split()
    assert all((project / n).is_file() for n in listed) and "snn_accel.sv" in listed
    assert "create_clock -period 4.000" in (project / "snn_accel_ooc.xdc").read_text()
    # the project is the build's HW graph: its parameters, ROMs and FIFO depths
    spec = event_graph.graph_spec(graph)
    assert (project / "snn_accel.sv").read_text() == accel_rtl.render_top(spec, accel_rtl.graph_fifo_depths(graph))
    assert all((project / n).read_text() == t for n, t in accel_rtl.rom_files(spec).items())
    assert "Vivado's packaging and synthesis of the RTL kernels" in printed
    require_tool(verilator.missing_reason())
    verilator.lint([project / n for n in listed if n.endswith(".sv")], "snn_accel")


def test_the_default_build_from_the_qonnx_alone_checks_against_the_qonnx_and_hls_stays_selectable(pipeline_run,
                                                                                                  tmp_path):
    """The QONNX without its checkpoint, built with finn.event_impl_style = hls: the same checks
    against the QONNX, and each kernel's HLS project (top_<node>.cpp, its headers, the synthesis
    tcl), which compiles with g++."""
    from toolchain.hw.hls.gxx import ap_types_dir

    out, _ = pipeline_run
    rc, printed = _build(out / "model_export.onnx", REPO / "build" / "snn-radioml", tmp_path,
                         style="hls")
    assert rc == 0, printed
    report = json.loads((tmp_path / "finn_output" / "finn_report.json").read_text())
    check = report["verification"]
    assert check["passed"] and check["reference"].startswith("qonnx execution")
    assert check["mismatches"] == {"hw": 0, "csim": 0}
    assert [r["op_type"] for r in report["layers"]] == ["ConstellationEncoder_hls", "SpikingConv_hls",
                                                        "SpikingConv_hls", "SpikingDense_hls"]
    assert "rtl_project" not in report["code"] and not (tmp_path / "finn_output" / "rtl_project").exists()
    assert "Vitis HLS synthesis of the kernels" in printed
    tops = sorted((tmp_path / "finn_output" / "code_gen").glob("code_gen_ipgen_*/top_*.cpp"))
    assert [t.name.split("_hls")[0] for t in tops] == ["top_ConstellationEncoder", "top_SpikingConv",
                                                      "top_SpikingConv", "top_SpikingDense"]
    for top in tops:
        assert (top.parent / "spiking_conv.hpp").is_file() and list(top.parent.glob("hls_syn_*.tcl"))
        res = subprocess.run(["g++", "-std=c++14", "-fsyntax-only", f"-I{ap_types_dir()}", f"-I{top.parent}",
                              str(top)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[:2000]


def test_a_qonnx_the_kernels_cannot_map_is_a_one_line_error_and_nothing_is_built(pipeline_run, tmp_path, capsys):
    from checks import assert_one_line_error

    out, _ = pipeline_run
    model = onnx.load(str(out / "model_export.onnx"))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "strides").ints[:] = [2, 2]
    bad = tmp_path / "strided.onnx"
    onnx.save(model, str(bad))
    rc = main(["finn_build", str(bad), "--build", str(REPO / "build" / "snn-radioml"), "--out", str(tmp_path / "b")])
    assert_one_line_error(rc, capsys.readouterr().err, "strided.onnx", "cannot map layer conv0", "stride-1")
    assert not (tmp_path / "b" / "finn_output").exists()


def test_the_dense_build_folder_is_bit_exact(dense_run):
    out, printed = dense_run
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    check = report["verification"]
    assert check["passed"] and check["time_steps"] == 16
    assert check["mismatches"] == {"pytorch": 0, "lowered": 0, "hw": 0}
    csim = check["csim"]
    assert csim["ran"] and csim["mismatches"] == 0 and len(csim["layers"]) == 3 and csim["values"] > 0
    assert "C simulation of 3 LIF kernels" in printed
    # the whole event-driven accelerator of the same checkpoint: no data file given, so the I/Q frames
    ev = report["event_driven"]
    assert ev["mapped"] and ev["passed"] and ev["frames"] == 2
    assert ev["frames_source"]["kind"].startswith("verification frames")
    assert check["accelerator_csim"]["check"]["class_mismatches"] == 0
    assert ev["cycles_per_frame"]["median"] <= ev["cycles_per_frame"]["worst"] <= ev["bound_cycles_per_frame"]
    # the RTL-simulated figures lead where the RTL was measured, the HLS C model's follow
    if ev.get("rtl_simulated", {}).get("ran"):
        assert "event-driven accelerator RTL-simulated" in printed
        assert "HLS C model: C-simulated bit exact on 2 frames" in printed
    else:
        assert "event-driven accelerator C-simulated bit exact on 2 frames" in printed


def test_spike_synapses_need_no_dsp_and_the_frame_is_t_steps(dense_run):
    out, _ = dense_run
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


def test_spike_mvaus_are_their_own_op_and_get_their_weight_memory(dense_run):
    out, _ = dense_run
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


def test_generated_lif_code_compiles(dense_run):
    out, _ = dense_run
    from toolchain.hw.hls.gxx import ap_types_dir

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
    for folder in (REPO / "build" / "snn-radioml", DENSE):  # both builds check the QONNX against PyTorch
        assert _build(bad, folder, tmp_path / folder.name, out / "initial_model.pth")[0] == 1
        assert not (tmp_path / folder.name / "finn_output").exists()


def test_evaluating_the_snn_qonnx_points_to_the_checkpoint(pipeline_run, tmp_path, capsys):
    from checks import assert_one_line_error

    out, _ = pipeline_run
    rc = main(["evaluate", str(out / "model_export.onnx"), "--data", str(out / "synthetic.h5"), "--out", str(tmp_path)])
    assert_one_line_error(rc, capsys.readouterr().err, "encoded spike counts", "checkpoint (.pth)")


def test_event_driven_section_without_a_data_file_runs_the_verification_frames(pipeline_run, tmp_path):
    from toolchain.hw.snn.event import accel_report

    out, _ = pipeline_run
    cache = tmp_path / "accel_csim"  # the pipeline's executables (the same checkpoint's accelerator): no g++ again
    shutil.copytree(out / "finn_output" / "code_gen" / "accel_csim", cache)
    ev = accel_report.evaluate(out / "initial_model.pth", None, cache, n_random=2, n_synthetic=1, seed=0)
    assert ev["passed"] and ev["frames"] == 3 and ev["frames_source"]["kind"].startswith("verification frames")
    assert "on 3 frames of the verification frames" in accel_report.summary_line(ev)
    # the FIFO depths are chosen on the schedule of the kernels built (finn.event_impl_style; RTL by default)
    assert ev["fifo_schedule"] == "rtl"
    with pytest.raises(ToolchainError, match=r"^finn.event_impl_style: 'vhdl', expected 'rtl' or 'hls'$"):
        accel_report.evaluate(out / "initial_model.pth", None, tmp_path, impl_style="vhdl")


def test_event_driven_frames_spread_over_the_test_split(pipeline_run):
    from toolchain.config import load_config
    from toolchain.stages.finn_build_checks import split_frames

    out, _ = pipeline_run
    split = RadioMLDataset.splits(out / "synthetic.h5", require_train=False)["test"]
    cfg = load_config(None, ["finn.event_driven_frames=3"])
    frames = split_frames(cfg, out / "synthetic.h5")
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


@pytest.mark.slow
def test_finn_build_measures_the_stitched_rtl(pipeline_run, tmp_path):
    """finn.event_driven_rtl (on by default; off in SHRINK): the test-split frames also stream through
    the stitched RTL accelerator in Verilator, and the event_driven section gains its measured
    figures beside the formulas'; the C model's keys stay."""
    from checks import require_tool
    from toolchain.hw.rtl import verilator

    require_tool(verilator.missing_reason())
    out, _ = pipeline_run
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["finn_build", str(out / "model_export.onnx"), "--build", str(REPO / "build" / "snn-radioml"),
                   "--checkpoint", str(out / "initial_model.pth"), "--data", str(out / "synthetic.h5"),
                   "--out", str(tmp_path / "b"), "--set", "finn.event_driven_frames=40",
                   "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=1"])
    assert rc == 0
    ev = json.loads((tmp_path / "b" / "finn_output" / "finn_report.json").read_text())["event_driven"]
    m = ev["rtl_simulated"]
    assert ev["passed"] and "cycles_per_frame" in ev and "streamed_cycles_per_frame" in ev  # the C model's keys stay
    assert m["ran"] and m["passed"] and m["frames"] == 40 and m["label"] == "RTL-simulated (Verilator)"
    assert m["fifo_depths"] == ev["fifo_depths"]  # the build's depths
    assert abs(m["cycles"] - m["formula"]["cycles"]) <= 0.01 * m["cycles"]
    assert not any(m["busy_formula_mismatches"].values())
    assert m["worst_case"]["per_kernel"] == m["worst_case"]["formula_per_kernel"]
    # the stitched worst case (no refractory: every neuron fires in every step): bit exact, every
    # kernel at its bound, class words at least at the slowest kernel's interval, as the FIFO model says
    st = m["worst_case"]["stitched"]
    assert st["ran"] and st["passed"] and not st["problems"] and st["network"]["every_neuron_every_step"]
    assert st["busy_cycles_per_kernel"] == st["formula"]["bound_per_kernel"] == m["worst_case"]["per_kernel"]
    assert st["guaranteed_cycles_per_frame"] >= max(st["busy_cycles_per_kernel"].values())
    assert st["guaranteed_cycles_per_frame"] == st["formula"]["fifo_model_interval"] and st["checks"]["fifo_model"]
    assert f"guaranteed {st['frames_per_s']:,.0f} frames/s" in printed.getvalue()
    assert f"{m['frames_per_s']:,.0f} frames/s sustained at an assumed 250 MHz" in printed.getvalue()
    # the RTL figures lead the summary line, each with the FIFO model's prediction beside it; the C model's after
    line = next(s for s in printed.getvalue().splitlines() if "event-driven accelerator" in s)
    assert line.startswith("finn_build: event-driven accelerator RTL-simulated (Verilator, 40 frames of the test split")
    assert f"(formula {m['formula']['frames_per_s']:,.0f})" in line and "; HLS C model: C-simulated bit exact" in line
    assert m["formula_frame_mismatches"] == {"first_in": 0, "class_out": 0}
    assert m["formula"]["latency_cycles"] == m["latency_cycles"]
