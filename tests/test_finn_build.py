"""finn_build: the FINN build of the 4-bit, 32-filter VGG10 (the finn-examples model) end to end.

Here (no Vivado) every step up to HW code generation runs and the later ones are skipped with
one line; the `vivado` tests run the rest where the tools exist.
"""

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from checks import estimate_only_build, report_sections
from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig
from toolchain.models import build_model

REPO = Path(__file__).parents[1]
BUILD = REPO / "build" / "vgg10-radioml"
SKIP_LINE = "not found on PATH: skipped step_hw_ipgen"


@pytest.fixture(scope="module")
def build_folder(tmp_path_factory):
    return estimate_only_build(BUILD, tmp_path_factory)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, finn_env):
    """Untrained w4a4 32-filter VGG10 (one training forward sets Brevitas' activation scales):
    checkpoint and its QONNX export."""
    out = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    cfg = ModelConfig(weight_bits=4, act_bits=4, filters=32)
    model = build_model(cfg)
    model.train()(torch.randn(64, 2, cfg.input_length))
    ckpt = save_checkpoint(out / "w4a4.pth", model.eval(), cfg)
    assert main(["export_onnx", str(ckpt), "--out", str(out / "w4a4.onnx"), "--set", "export.verify_inputs=2"]) == 0
    return out / "w4a4.onnx", ckpt


@pytest.fixture(scope="module")
def zcu104(tmp_path_factory, model_files, build_folder):
    """`toolchain finn_build MODEL.onnx --build build/vgg10-radioml --board ZCU104 --out DIR`."""
    onnx_file, ckpt = model_files
    run = tmp_path_factory.mktemp("zcu104") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["finn_build", str(onnx_file), "--build", str(build_folder), "--board", "ZCU104", "--out", str(run),
                   "--checkpoint", str(ckpt), "--set", "finn.verify_inputs=6", "--set", "finn.verify_synthetic=3"])
    return rc, run, buf.getvalue()


def report_of(run: Path) -> dict:
    return json.loads((run / "finn_output" / "finn_report.json").read_text())


def test_build_stops_after_codegen_with_one_skip_line(zcu104):
    from toolchain.hw.finn_env import missing_xilinx_tools

    rc, run, out = zcu104
    assert rc == 0
    if not missing_xilinx_tools():
        pytest.skip("Vivado is installed: nothing is skipped")
    skip = [line for line in out.splitlines() if SKIP_LINE in line]
    assert len(skip) == 1 and "vivado" in skip[0] and "step_synthesize_bitfile" in skip[0]
    assert "Traceback" not in out
    report = report_of(run)
    assert report["steps"]["ran"][-1] == "step_hw_codegen" and report["steps"]["skipped"][0] == "step_hw_ipgen"
    assert "not found on PATH" in report["steps"]["skipped_because"]
    assert not (run / "finn_output" / "bitfile").exists()
    entry = json.loads((run / "manifest.json").read_text())["stages"]["finn_build"]
    assert entry["outputs"]["finn_output"] == "finn_output" and entry["verification"]["passed"]
    assert entry["config"]["finn"]["board"] == "ZCU104" and str(BUILD / "build.yaml") in entry["inputs"]


def test_report_has_layers_and_totals(zcu104):
    report = report_of(zcu104[1])
    layers = report["layers"]
    for key in ("name", "layer", "op_type", "PE", "SIMD", "cycles", "LUT", "BRAM_18K", "URAM", "DSP"):
        assert all(key in row for row in layers)
    t = report["totals"]
    assert t["cycles_per_frame"] == max(r["cycles"] for r in layers) <= 1028  # one I/Q sample per cycle
    assert t["estimated_fps"] == pytest.approx(250e6 / t["cycles_per_frame"], rel=1e-6) and t["estimated_fps"] > 243_000
    assert t["latency_cycles"] > t["cycles_per_frame"] and t["estimated_latency_us"] == pytest.approx(
        t["latency_cycles"] * 4.0 / 1e3, rel=1e-3)
    mvau = [r for r in layers if r["op_type"] == "MVAU_rtl"]
    assert len(mvau) == 10 and all(r["LUT"] is None and r["notes"] for r in mvau)  # FINN leaves these out
    assert all(r["DSP"] > 0 and r["BRAM_18K"] > 0 for r in mvau)
    lut = t["resources"]["LUT"]
    assert lut["complete"] is False and "conv1.mvau" in lut["not_estimated"] and lut["share_is_lower_bound"]
    assert lut["estimate"] == sum(r["LUT"] for r in layers if r["LUT"] is not None) > 0
    assert t["resources"]["FF"]["estimate"] is None and t["resources"]["DSP"]["complete"]
    assert (zcu104[1] / "finn_output" / "finn_report.png").stat().st_size > 20_000


def test_board_json_gives_the_share_of_the_board(zcu104):
    report = report_of(zcu104[1])
    board = json.loads((BUILD / "boards" / "ZCU104.json").read_text())["resources"]
    assert report["board"]["resources"] == board
    res = report["totals"]["resources"]
    assert res["DSP"]["share"] == pytest.approx(res["DSP"]["estimate"] / 1728, abs=1e-4)
    assert res["BRAM36"]["estimate"] == res["BRAM_18K"]["estimate"] / 2
    assert res["BRAM36"]["share"] == pytest.approx(res["BRAM36"]["estimate"] / 312, abs=1e-4)


def test_hls_and_rtl_code_is_generated(zcu104):
    report = report_of(zcu104[1])
    code = zcu104[1] / "finn_output" / report["code"]["dir"]
    assert report["code"]["hls_cpp"] >= 9 and report["code"]["rtl"] >= 20  # 7 Pool + add + label select in HLS
    pool = code.parent / report["code"]["per_layer"]["conv0.pool"]
    assert list(pool.glob("top_*.cpp")) and (pool / "hls_syn_Pool_hls_0.tcl").is_file()
    mvau = code.parent / report["code"]["per_layer"]["conv1.mvau"]
    assert any(p.suffix in (".v", ".sv") for p in mvau.iterdir())


def test_verification_is_class_exact(zcu104):
    check = report_of(zcu104[1])["verification"]
    assert check["passed"] and check["frames"] == 9 and check["scores_bit_exact"]
    assert set(check["classes"]) == {"qonnx", "pytorch", "streamlined", "hw"}
    assert check["mismatches"] == {"pytorch": 0, "streamlined": 0, "hw": 0}
    assert sum(k.startswith("synthetic:") for k in check["kinds"]) == 3
    assert check["input_quantizer"]["scale"] == 1 / 64 and check["accelerator_input"]["datatype"] == "INT8"
    assert check["cppsim"]["ran"] is False and "finn-hlslib" in check["cppsim"]["reason"]
    assert "verification passed" in zcu104[2]


def test_folding_is_applied_by_structure(zcu104):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.hw.finn.structure import places

    model = ModelWrapper(str(zcu104[1] / "finn_output" / "intermediate_models" / "step_hw_codegen.onnx"))
    by_place = {str(p): name for name, p in places(model).items()}

    def attr(place, name):
        return getCustomOp(model.get_node_from_name(by_place[place])).get_nodeattr(name)

    # finn-examples per block: FMPadding SIMD / SWG SIMD / MVAU PE x SIMD (conv2.pad raised, see the file)
    expected = {0: (2, 2, 32, 6), 1: (16, 32, 16, 96), 2: (16, 32, 8, 96), 3: (8, 32, 4, 96), 4: (4, 32, 2, 96),
                5: (2, 32, 1, 96), 6: (1, 32, 1, 96)}
    for j, (pad, swg, pe, simd) in expected.items():
        assert (attr(f"conv{j}.pad", "SIMD"), attr(f"conv{j}.swg", "SIMD")) == (pad, swg)
        assert (attr(f"conv{j}.mvau", "PE"), attr(f"conv{j}.mvau", "SIMD")) == (pe, simd)
        assert attr(f"conv{j}.thresholds", "PE") == pe and attr(f"conv{j}.swg", "parallel_window") == 1
    dense = [(attr(f"dense{k}.mvau", "PE"), attr(f"dense{k}.mvau", "SIMD")) for k in range(3)]
    assert dense == [(2, 32), (1, 32), (1, 8)]
    # FINN's names shifted: conv SWG j is ConvolutionInputGenerator_rtl_{2j} (the pool SWGs sit between)
    assert by_place["conv3.swg"] == "ConvolutionInputGenerator_rtl_6" and by_place["conv3.pool"] == "Pool_hls_3"
    applied = json.loads((zcu104[1] / "finn_output" / "report" / "applied_folding_config.json").read_text())
    assert applied["MVAU_rtl_1"]["PE"] == 16 and applied["ConvolutionInputGenerator_rtl_6"]["SIMD"] == 32


def test_a_class_mismatch_fails_the_stage(model_files, build_folder, tmp_path, capsys):
    """A checkpoint whose classifier prefers class 3 everywhere disagrees with the ONNX model:
    the stage fails with the verification figures and keeps nothing."""
    from toolchain.checkpoint import load_checkpoint

    payload = load_checkpoint(model_files[1])
    bias = next(k for k in payload["state_dict"] if k.endswith("bias") and payload["state_dict"][k].numel() == 24)
    payload["state_dict"][bias][3] += 1e4
    other = tmp_path / "other.pth"
    torch.save(payload, other)
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(build_folder), "--out", str(run),
                 "--checkpoint", str(other),
                 "--set", "finn.verify_inputs=2", "--set", "finn.verify_synthetic=0"]) == 1
    err = error_of(capsys)
    assert "verification failed (pytorch: 2 of 2 frames differ)" in err and not run.exists()


# ------------------------------------------------------------------------------- a new board
@pytest.fixture(scope="module")
def custom_folder(tmp_path_factory, build_folder):
    """A copy of the build folder with a board that exists only as JSON files, and a custom step."""
    folder = tmp_path_factory.mktemp("build") / "vgg10"
    shutil.copytree(build_folder, folder)
    board = json.loads((folder / "boards" / "ZCU104.json").read_text())
    board.update(name="HalfZU", clock_ns=5.0, resources={"LUT": 115200, "FF": 230400, "BRAM36": 156, "URAM": 48,
                                                          "DSP": 1728})
    (folder / "boards" / "HalfZU.json").write_text(json.dumps(board))
    for sub in ("folding_config", "specialize_layers_config"):
        shutil.copy(folder / sub / "ZCU104.json", folder / sub / "HalfZU.json")
    (folder / "custom_steps.py").write_text(
        "def step_mark(model, cfg):\n    model.set_metadata_prop('marked_by', 'custom_steps.py')\n    return model\n")
    text = (folder / "build.yaml").read_text().replace("  - step_tidy_up\n", "  - step_tidy_up\n  - step_mark\n")
    (folder / "build.yaml").write_text(text)
    return folder


def test_a_new_board_is_only_json_files(custom_folder, model_files, tmp_path, zcu104):
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(custom_folder), "--board", "HalfZU",
                 "--out", str(run), "--set", "finn.verify_inputs=2", "--set", "finn.verify_synthetic=0"]) == 0
    report, ref = report_of(run), report_of(zcu104[1])
    t, t_ref = report["totals"], ref["totals"]
    assert t["clock_mhz"] == 200.0 and t["cycles_per_frame"] == t_ref["cycles_per_frame"]
    assert t["estimated_fps"] == pytest.approx(t_ref["estimated_fps"] * 0.8, rel=1e-6)
    assert t["resources"]["BRAM36"]["share"] == pytest.approx(2 * t_ref["resources"]["BRAM36"]["share"], abs=2e-4)
    assert t["resources"]["DSP"]["share"] == t_ref["resources"]["DSP"]["share"]
    from qonnx.core.modelwrapper import ModelWrapper

    marked = ModelWrapper(str(run / "finn_output" / "intermediate_models" / "step_mark.onnx"))
    assert marked.get_metadata_prop("marked_by") == "custom_steps.py"


# ------------------------------------------------------------------------------- user errors
def error_of(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("extra, named", [
    (["--build", "no/such/folder"], "'finn.build'"),
    (["--board", "Nope"], "unknown board 'Nope'"),
    (["--set", "finn.bord=ZCU104"], "'finn.bord'"),
    (["--set", "finn.clock_ns=-1"], "'finn.clock_ns'"),
])
def test_bad_options_exit_1_and_write_nothing(extra, named, model_files, build_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(build_folder), "--out", str(run), *extra]) == 1
    assert named in error_of(capsys) and not run.exists()


def broken_copy(tmp_path, path: str, edit) -> Path:
    folder = tmp_path / "b"
    shutil.copytree(BUILD, folder)
    target = folder / path
    target.write_text(edit(target.read_text()))
    return folder


@pytest.mark.parametrize("path, edit, named", [
    ("build.yaml", lambda s: s + "stepz: []\n", "unknown config key 'stepz'"),
    ("build.yaml", lambda s: s.replace("step_streamline", "step_streamlin"), "unknown step 'step_streamlin'"),
    ("build.yaml", lambda s: s.replace("step_fold_by_structure", "step_apply_folding_config"), "node-name"),
    ("build.yaml", lambda s: s.replace("standalone_thresholds: true", "standalone_thresholds: true\n  foo: 1"),
     "finn_options"),
    ("boards/ZCU104.json", lambda s: s.replace('"part"', '"prat"'), "unknown config key 'prat'"),
    ("folding_config/ZCU104.json", lambda s: s.replace('"layers"', '"layerz"'), "unknown key 'layerz'"),
    ("folding_config/ZCU104.json", lambda s: s.replace('"model"', '"modle"'), "unknown key 'modle'"),
    ("build.yaml", lambda s: s.replace("target_fps: max", "target_fps: fast"), "'target_fps'"),
    ("boards/ZCU104.json", lambda s: s.replace('"budget": 0.7', '"budget": 1.5'), "key 'budget'"),
])
def test_bad_build_folder_exits_1_before_any_work(path, edit, named, model_files, tmp_path, capsys, finn_env):
    folder, run = broken_copy(tmp_path, path, edit), tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(folder), "--out", str(run)]) == 1
    err = error_of(capsys)
    assert named in err and not run.exists()


def test_the_run_report_shows_the_build_against_the_board(zcu104, tmp_path):
    """`toolchain report` on the build's run directory: totals and per-layer figures labelled as
    FINN's estimates, the resources as shares of the ZCU104, the rate-bounding layer marked."""
    run = tmp_path / "run"
    shutil.copytree(zcu104[1], run)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", str(run)]) == 0
    finn = report_sections((run / "report.html").read_text())["finn_build"]
    report = report_of(run)
    totals, rows = report["totals"], report["layers"]
    assert f"{totals['cycles_per_frame']:,} cycles per frame" in finn and f"{totals['estimated_fps']:,.1f}" in finn
    lut = totals["resources"]["LUT"]
    assert f"{100 * lut['share']:.2f} % (lower bound)" in finn and f"{lut['board']:,}" in finn
    body = re.search(r"<caption>Per layer.*?<tbody>(.*?)</tbody>", finn, re.S).group(1)
    marked = re.findall(r"<tr( class=\"highlight\")?>\s*<td>([^<]+)</td>", body)
    assert [name for _, name in marked] == [r["layer"] for r in rows]
    assert [name for flag, name in marked if flag] == [report["folding"]["rate_bound"]["layer"]]
    assert "how-estimate" in finn and "how-C-simulated" not in finn and "how-synthesized" not in finn


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.replace('"conv6": {', '"conv9": {'), "layers.conv9: no such layer"),
    (lambda s: s.replace('"mvau": {"PE": 16, "SIMD": 96}', '"mvau": {"PE": 16, "SIMDD": 96}'),
     "conv1.mvau.SIMDD: not an attribute"),
    (lambda s: s.replace('"mvau": {"PE": 16, "SIMD": 96}', '"mvau": {"PE": 5, "SIMD": 96}'),
     "conv1.mvau.PE=5: must divide MH=32"),
    (lambda s: s.replace('"swg": {"SIMD": 32}, "mvau": {"PE": 16', '"swg": {"SIMD": 16}, "mvau": {"PE": 16'),
     "conv1.swg.SIMD=16: parallel_window=1 needs SIMD equal to IFMChannels=32"),
])
def test_folding_errors_name_the_layer_and_keep_the_previous_build(edit, named, model_files, zcu104, tmp_path,
                                                                   capsys):
    folder = broken_copy(tmp_path, "folding_config/ZCU104.json", edit)
    run = tmp_path / "run"
    shutil.copytree(zcu104[1], run)
    before = (run / "finn_output" / "finn_report.json").read_bytes()
    manifest = (run / "manifest.json").read_bytes()
    assert main(["finn_build", str(model_files[0]), "--build", str(folder), "--out", str(run)]) == 1
    err = error_of(capsys)
    assert named in err and "step_fold_by_structure" in err
    assert (run / "finn_output" / "finn_report.json").read_bytes() == before  # the previous build is kept
    assert (run / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in zcu104[1].iterdir())


def test_a_failure_inside_a_finn_step_names_the_step_and_the_layer(model_files, build_folder, tmp_path, capsys):
    """A custom step breaks conv1's sliding window after the folding was checked: FINN's own
    step fails on it; one line names the step and the layer, the log keeps the traceback."""
    folder = tmp_path / "b"
    shutil.copytree(build_folder, folder)
    (folder / "custom_steps.py").write_text(
        "from qonnx.custom_op.registry import getCustomOp\n"
        "from toolchain.hw.finn.structure import places\n\n"
        "def step_break(model, cfg):\n"
        "    name = next(n for n, p in places(model).items() if str(p) == 'conv1.swg')\n"
        "    getCustomOp(model.get_node_from_name(name)).set_nodeattr('SIMD', 16)\n"
        "    return model\n")
    text = (folder / "build.yaml").read_text()
    (folder / "build.yaml").write_text(text.replace("  - step_fold_by_structure\n",
                                                    "  - step_fold_by_structure\n  - step_break\n"))
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(folder), "--out", str(run),
                 "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=0"]) == 1
    err = error_of(capsys)
    assert "FINN step step_" in err and "failed at layer conv1.swg (ConvolutionInputGenerator_rtl_2)" in err
    assert "SIMD must be equal to IFMChannels" in err and "finn_build_failed.log" in err
    assert "Traceback" in (run / "finn_build_failed.log").read_text()
    assert sorted(p.name for p in run.iterdir()) == ["finn_build_failed.log"]  # no half build, no manifest


def test_automatic_folding_of_the_same_model_needs_fewer_dsps_and_brams(model_files, build_folder, zcu104,
                                                                        tmp_path):
    """Without the hand file: the same frame rate as finn-examples' folding, at no more DSP and BRAM."""
    folder = tmp_path / "b"
    shutil.copytree(build_folder, folder)
    (folder / "folding_config" / "ZCU104.json").unlink()
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(folder), "--out", str(run),
                 "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=1"]) == 0
    auto, hand = report_of(run)["totals"], report_of(zcu104[1])["totals"]
    assert auto["cycles_per_frame"] == hand["cycles_per_frame"] == 1028
    for res in ("DSP", "BRAM36"):
        assert auto["resources"][res]["estimate"] <= hand["resources"][res]["estimate"], res
    folding = report_of(run)["folding"]
    assert folding["mode"] == "automatic" and folding["hand_file"] is None and folding["fits"]
    assert report_of(zcu104[1])["folding"]["hand_file"]["applied"] is True


def test_the_folding_search_keeps_to_the_target_and_the_budget(zcu104):
    """autofold on the w4a4 model's HW graph (before folding): a target is met at fewer DSPs than
    the fastest folding; a tight budget bounds the rate, and the resource it names is the one the
    next faster folding overflows; a budget nothing fits is reported, not hidden."""
    from qonnx.core.modelwrapper import ModelWrapper

    from toolchain.hw.finn.autofold import auto_fold, current_folding

    path = str(zcu104[1] / "finn_output" / "intermediate_models" / "step_specialize_by_structure.onnx")
    board = json.loads((BUILD / "boards" / "ZCU104.json").read_text())
    part, res = board["part"], board["resources"]
    target = auto_fold(ModelWrapper(path), part, res, 100_000, 4.0)
    fastest = auto_fold(ModelWrapper(path), part, res, "max", 4.0)
    assert target["rate_bound"]["by"] == "the target" and 250e6 / target["cycles"] >= 100_000
    assert fastest["cycles"] == 1028 and target["totals"]["DSP"] < fastest["totals"]["DSP"]
    tight_model = ModelWrapper(path)
    tight = auto_fold(tight_model, part, res, "max", 4.0, fraction=0.2)
    assert tight["fits"] and tight["cycles"] > 1028 and tight["rate_bound"]["by"].startswith("the budget")
    assert tight["resource_bound"]["resource"] in tight["resource_bound"]["over_budget_if_faster"]
    assert all(tight["totals"][r] <= tight["budget"][r] for r in tight["totals"])
    applied = current_folding(tight_model, part, res, 4.0, 0.2)  # the model carries what was reported
    assert applied["cycles"] == tight["cycles"] and applied["totals"] == pytest.approx(tight["totals"])
    nothing = auto_fold(ModelWrapper(path), part, res, "max", 4.0, fraction=0.001)
    assert not nothing["fits"] and "even the slowest folding does not fit" in nothing["rate_bound"]["by"]


def test_require_bitstream_fails_without_vivado(model_files, tmp_path, capsys):
    from toolchain.hw.finn_env import missing_xilinx_tools

    if not missing_xilinx_tools():
        pytest.skip("Vivado is installed: a bitstream can be built")
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(BUILD), "--out", str(run),
                 "--require-bitstream"]) == 1
    err = error_of(capsys)
    assert "require_bitstream" in err and "vivado" in err and not run.exists()


def test_missing_or_wrong_model_is_one_line(tmp_path, capsys, finn_env):
    assert main(["finn_build", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "r")]) == 1
    assert "no such ONNX model" in error_of(capsys)
    assert main(["finn_build", "--out", str(tmp_path / "r")]) == 1
    assert "model_export.onnx" in error_of(capsys)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    assert main(["finn_build", str(bad), "--out", str(tmp_path / "r")]) == 1
    assert "not a loadable ONNX model" in error_of(capsys) and not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------- longer
@pytest.mark.slow
@pytest.mark.parametrize("board", ["Pynq-Z1", "U250"])
def test_other_boards_fit(board, model_files, build_folder, tmp_path):
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(build_folder), "--board", board, "--out", str(run),
                 "--set", "finn.verify_inputs=2", "--set", "finn.verify_synthetic=1"]) == 0
    report = report_of(run)
    assert report["board"]["name"] == board and report["verification"]["passed"]
    for res in ("LUT", "BRAM36", "URAM", "DSP"):
        share = report["totals"]["resources"][res]["share"]
        assert share is not None and share < 0.8, (res, share)
    if board == "Pynq-Z1":
        assert {r["op_type"] for r in report["layers"] if r["layer"] in ("conv1.mvau", "conv2.mvau")} == {"MVAU_hls"}
        assert report["totals"]["estimated_fps"] > 12_000
    else:
        assert report["board"]["shell_flow"] == "vitis_alveo"


@pytest.mark.slow
def test_pipeline_uses_the_runs_export_and_checkpoint(model_files, build_folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_files[1], run / "initial_model.pth")
    assert main(["run", "--out", str(run), "--set", "run.stages=[export_onnx, finn_build]",
                 "--set", f"finn.build={build_folder}", "--set", "finn.verify_inputs=2",
                 "--set", "finn.verify_synthetic=0", "--set", "export.verify_inputs=2"]) == 0
    check = report_of(run)["verification"]
    assert check["passed"] and check["pytorch_checkpoint"].endswith("initial_model.pth")
    assert set(json.loads((run / "manifest.json").read_text())["stages"]) == {"export_onnx", "finn_build"}


# ------------------------------------------------------------------------------- with Vivado
@pytest.mark.vivado
@pytest.mark.slow
def test_bitstream_build_with_vivado(model_files, tmp_path):
    """The remaining finn-examples steps: IP generation, FIFO sizing, stitched IP, rtlsim
    performance, OOC synthesis, bitfile, PYNQ driver and deployment package (hours)."""
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(BUILD), "--board", "ZCU104", "--out", str(run),
                 "--require-bitstream",
                 "--set", "finn.verify_inputs=2", "--set", "finn.verify_synthetic=0"]) == 0
    out = run / "finn_output"
    report = report_of(run)
    assert report["steps"]["skipped"] == [] and report["steps"]["ran"][-1] == "step_deployment_package"
    assert (out / "bitfile" / "finn-accel.bit").is_file() and (out / "deploy" / "driver").is_dir()
    for name in ("post_synth_resources", "ooc_synth_and_timing", "rtlsim_performance", "fifo_sizing"):
        assert name in report["measured"], name
    assert report["verification"]["cppsim"]["ran"] is report["verification"]["cppsim"].get("passed", True)


@pytest.mark.vivado
def test_hls_ip_generation_with_vitis(model_files, tmp_path):
    """Up to step_hw_ipgen: Vitis HLS synthesises every HLS layer (minutes)."""
    folder = tmp_path / "b"
    shutil.copytree(BUILD, folder)
    text = (folder / "build.yaml").read_text()
    (folder / "build.yaml").write_text(text.split("  - step_set_fifo_depths\n")[0] + "outputs: [estimate_reports]\n")
    run = tmp_path / "run"
    assert main(["finn_build", str(model_files[0]), "--build", str(folder), "--out", str(run),
                 "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=0"]) == 0
    assert (run / "finn_output" / "report" / "estimate_layer_resources_hls.json").is_file()


def test_accelerator_input_matches_finn_examples_formula():
    """finn-examples quantises in software: x_int = round((x + 2) / 4 * 256) - 128 (INT8, scale 1/64)."""
    from toolchain.hw.finn.steps import InputQuant
    from toolchain.hw.finn.verify import accelerator_input

    rng = np.random.default_rng(1)
    x = rng.uniform(-1.99, 1.99, (3, 2, 16)).astype(np.float32)
    got = accelerator_input(x, InputQuant(1 / 64, 8, True, False, "ROUND"), [1, 16, 1, 2])
    ref = np.round((x + 2) / 4 * 256) - 128
    assert got.shape == (3, 16, 1, 2) and np.array_equal(got[:, :, 0, :], ref.transpose(0, 2, 1))
    big = accelerator_input(np.full((1, 2, 16), 5.0, np.float32), InputQuant(1 / 64, 8, True, False, "ROUND"),
                            [1, 16, 1, 2])
    assert big.max() == 127  # clipped like the QONNX input quantizer


def test_tool_steps_resume_after_the_check(model_files, tmp_path, monkeypatch):
    """With the tools, the build runs in two parts around the verification: FINN resumes the
    second from its saved model (start_step). Exercised here by declaring HW code generation a
    tool step; the logs and step times of both parts end up in FINN's single files."""
    from toolchain.config import FinnConfig
    from toolchain.hw.finn import steps as st
    from toolchain.hw.finn.build_config import load_plan
    from toolchain.hw.finn.runner import dataflow_config, run_build
    from toolchain.hw.finn_env import prepare_finn

    prepare_finn(tmp_path / "code")
    plan = load_plan(FinnConfig(build=str(BUILD), board="ZCU104"))
    monkeypatch.setattr(st, "XILINX_STEPS", st.XILINX_STEPS | {"step_hw_codegen"})
    resolved = st.resolve_steps(plan).steps
    steps = resolved[: [n for n, _ in resolved].index("step_hw_codegen") + 1]
    seen, out = [], tmp_path / "out"
    outcome = run_build(model_files[0], dataflow_config(plan, out), steps, [],
                        check=lambda o: seen.append((list(o.ran), (out / "intermediate_models").is_dir())))
    assert seen == [([n for n, _ in steps[:-1]], True)] and outcome.ran == [n for n, _ in steps]
    assert outcome.hw_model.name == "step_generate_estimate_reports.onnx"
    times = json.loads((out / "report" / "time_per_step.json").read_text())
    assert {"step_streamline", "step_hw_codegen"} <= set(times)
    assert times["total_build_time"] == sum(v for k, v in times.items() if k != "total_build_time")
    log = (out / "build_dataflow.log").read_text()
    assert "Running step: step_streamline" in log and "Running step: step_hw_codegen" in log
    assert list((tmp_path / "code").glob("code_gen_ipgen_MVAU_rtl_*"))


# ------------------------------------------------------------------------------- docker
SCRIPTS = [REPO / "run_docker_gpu.sh", REPO / "docker" / "finn_entrypoint.sh"]


def test_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    import subprocess

    done = subprocess.run([shellcheck, "--severity=style", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_gpu_script_usage_needs_no_docker(tmp_path):
    import subprocess

    done = subprocess.run(["bash", str(SCRIPTS[0])], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "Usage: ./run_docker_gpu.sh DATASET_DIR" in done.stdout


def test_dockerfiles_install_the_lock_without_resolving():
    finn = (REPO / "docker" / "Dockerfile.finn").read_text()
    gpu = (REPO / "docker" / "Dockerfile.gpu").read_text()
    for text in (finn, gpu):
        assert "pip install --no-cache-dir --no-deps -r requirements.lock" in text
        for line in text.splitlines():
            if line.startswith("COPY ") and "--from" not in line:
                for src in line.split()[1:-1]:
                    assert (REPO / src).exists(), src
    assert gpu.index("torch==2.13.0 --index-url") < gpu.index("-r requirements.lock")  # CUDA torch kept
    assert "XILINX_VERSION" in finn and "finn_entrypoint.sh" in finn
