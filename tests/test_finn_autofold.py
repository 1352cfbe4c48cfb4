"""finn_build folds any model automatically within the board's budget: the official baseline
(64 filters, 8 bits; the shipped folding files are written for another model) on every board, and
a pruned and a bit-reduced model from the pipeline's own stages. Without Vivado every build stops
after HW code generation; FINN's estimates and the class-exact verification are checked."""

import contextlib
import io
import json
from pathlib import Path

import pytest

from checks import estimate_only_build
from toolchain.cli import main
from toolchain.config import SynthConfig
from toolchain.data.synth import generate

REPO = Path(__file__).parents[1]
BUILD = REPO / "build" / "vgg10-radioml"
OFFICIAL_PTH = REPO / "models" / "reference" / "vgg10_w8a8_baseline" / "pretrained_VGG10_w8a8_20.pth"
BUDGET = 0.7  # the board files' share


@pytest.fixture(scope="module")
def build_folder(tmp_path_factory):
    return estimate_only_build(BUILD, tmp_path_factory)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, finn_env):
    out = tmp_path_factory.mktemp("baseline")
    assert main(["export_onnx", str(OFFICIAL_PTH), "--model", "vgg10", "--out", str(out / "model_export.onnx"),
                 "--set", "export.verify_inputs=1"]) == 0
    return out / "model_export.onnx"


def finn_build(args: list[str]) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["finn_build", *args, "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=1"])
    return rc, printed.getvalue()


def check_build(run: Path, board: str) -> dict:
    """What every automatic build must show: within budget by the DSPs and memories its RTL
    instantiates (FINN's estimate where a layer has no count) and by LUT, verification passed,
    code generated, every node within the constraints, the bounds reported."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.hw.finn.constraints import violation

    report = json.loads((run / "finn_output" / "finn_report.json").read_text())
    folding, totals = report["folding"], report["totals"]
    assert report["board"]["name"] == board and report["verification"]["passed"]
    assert folding["mode"] == "automatic" and folding["fits"] and folding["budget_fraction"] == BUDGET
    for res in ("BRAM36", "URAM", "DSP"):  # counted after bit-width minimisation
        assert totals["resources"][res]["counted"] <= BUDGET * totals["resources"][res]["board"] + 1e-6, res
    assert totals["budget_check"]["within_budget"]
    # LUT: FINN's estimate with the counted LUTRAM of the RTL layers in place of FINN's memory LUTs
    assert folding["totals"]["LUT"] <= folding["budget"]["LUT"]
    assert totals["cycles_per_frame"] == folding["cycles"] == folding["rate_bound"]["cycles"]
    assert folding["rate_bound"]["layer"].split("+")[0] in {r["layer"] for r in report["layers"]}
    assert folding["resource_bound"]["resource"] in ("LUT", "BRAM_18K", "URAM", "DSP")
    assert report["code"]["hls_cpp"] > 0 and report["code"]["rtl"] > 0
    model = ModelWrapper(str(run / "finn_output" / "intermediate_models" / "step_hw_codegen.onnx"))
    hw = [getCustomOp(n) for n in model.graph.node if n.domain.startswith("finn.custom_op.fpgadataflow.")]
    assert len(hw) > 30 and all(violation(inst) is None for inst in hw)
    return report


@pytest.fixture(scope="module")
def baseline_runs(baseline, build_folder, tmp_path_factory):
    """Board -> (run directory, printed lines) of the baseline's build, made once per board."""
    runs = {}

    def run_for(board: str) -> tuple[Path, str]:
        if board not in runs:
            run = tmp_path_factory.mktemp(board) / "run"
            rc, out = finn_build([str(baseline), "--build", str(build_folder), "--board", board, "--out", str(run)])
            assert rc == 0, out
            runs[board] = run, out
        return runs[board]

    return run_for


# ZCU104 by default; the other two boards (~20 s each) with the slow tests CI runs as well.
@pytest.mark.parametrize("board", ["ZCU104", pytest.param("Pynq-Z1", marks=pytest.mark.slow),
                                   pytest.param("U250", marks=pytest.mark.slow)])
def test_official_baseline_builds_on_every_board(board, baseline_runs):
    run, out = baseline_runs(board)
    report = check_build(run, board)
    folding = report["folding"]
    assert folding["hand_file"]["applied"] is False and folding["hand_file"]["written_for"]["signature"] != \
        folding["signature"]
    line = [x for x in out.splitlines() if "folding automatic" in x]
    assert len(line) == 1 and f"is written for model {folding['hand_file']['written_for']['signature']}" in line[0]
    assert f"rate bound by {folding['rate_bound']['layer']}" in line[0] and "resource bound:" in line[0]
    if board != "U250":  # the smaller boards cannot hold a faster folding: the budget bounds the rate
        assert folding["rate_bound"]["by"].startswith("the budget: a faster folding needs more")
        assert folding["resource_bound"]["over_budget_if_faster"]
    else:  # the first layer's streaming limit, one I/Q sample per cycle
        assert folding["rate_bound"]["layer"].startswith("conv0.") and report["totals"]["cycles_per_frame"] <= 1028


def test_official_baseline_on_zcu104_fits_by_the_counted_dsps(baseline_runs):
    """Within budget by the DSPs its RTL instantiates, which for 8-bit weights are twice FINN's
    estimate: slower than the 81,380 fps folding FINN's estimate allowed (2,101 DSPs in the RTL)."""
    run, _ = baseline_runs("ZCU104")
    report = json.loads((run / "finn_output" / "finn_report.json").read_text())
    dsp = report["totals"]["resources"]["DSP"]
    rtl = [r for r in report["layers"] if r["op_type"].endswith("_rtl")]
    assert dsp["counted"] > 1.9 * dsp["estimate"] and dsp["counted_layers"] == len(rtl) > 30
    assert dsp["counted"] <= BUDGET * 1728 and report["totals"]["estimated_fps"] < 81_380
    mvau = next(r for r in report["layers"] if r["layer"] == "conv1.mvau")
    assert mvau["counted"]["DSP"] == 2 * mvau["DSP"] and "counted from the generated RTL" in mvau["counted"]["source"]
    assert mvau["source"].startswith("FINN estimate")


def test_a_broken_node_fails_the_constraint_check(baseline_runs):
    """The check the automatic folding relies on: what FINN would refuse is refused here."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.hw.finn.constraints import violation
    from toolchain.hw.finn.structure import places

    run, _ = baseline_runs("ZCU104")
    model = ModelWrapper(str(run / "finn_output" / "intermediate_models" / "step_hw_codegen.onnx"))
    node = {str(p): n for n, p in places(model).items()}
    swg = getCustomOp(model.get_node_from_name(node["conv1.swg"]))
    swg.set_nodeattr("parallel_window", 1)
    swg.set_nodeattr("SIMD", 32)  # of 64 channels
    assert violation(swg) == ("SIMD", "parallel_window=1 needs SIMD equal to IFMChannels=64 (FINN's RTL sliding "
                                      "window, non-depthwise)")
    mvau = getCustomOp(model.get_node_from_name(node["conv2.mvau"]))
    mvau.set_nodeattr("PE", 3)
    assert violation(mvau) == ("PE", "must divide MH=64")
    mvau.set_nodeattr("PE", 1)
    mvau.set_nodeattr("ram_style", "ultra")
    assert violation(mvau)[0] == "ram_style"


# ------------------------------------------------------------------------------- pipeline outputs
LENGTH = 128
SMALL = [f"model.input_length={LENGTH}", "model.filters=8", "model.dense=16", "data.batch_size=64",
         "train.threads=1", "train.max_batches=2", "prune.criterion=absolute", "prune.min_acc=0"]


def sets(*items):
    return [a for item in (*SMALL, *items) for a in ("--set", item)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, finn_env):
    root = tmp_path_factory.mktemp("small")
    data = generate(root / "synth.h5", SynthConfig(frames_per_pair=8, snrs=[30], length=LENGTH), progress=False)
    assert main(["train_initial", str(data), "--out", str(root / "base"), *sets("train.epochs=1")]) == 0
    return data, root / "base" / "initial_model.pth"


@pytest.mark.parametrize("stage, options, target", [
    pytest.param("prune", ["prune.target_sparsity=0.5", "prune.finetune_epochs=1", "prune.score=false"], "max",
                 marks=pytest.mark.slow),
    ("reduce_bits", ["prune.bits_weight=[[4, 8, 8, 8, 8, 8, 8, 6, 6, 4]]",
                     "prune.bits_act=[[4, 4, 4, 4, 4, 4, 4, 6, 6]]", "prune.bits_finetune_epochs=0"], 20_000),
])
def test_pipeline_outputs_build(stage, options, target, trained, build_folder, tmp_path):
    data, initial = trained
    run = tmp_path / "run"
    assert main([stage, str(initial), "--data", str(data), "--out", str(run), *sets(*options)]) == 0
    assert main(["export_onnx", "--out", str(run)]) == 0
    rc, out = finn_build(["--build", str(build_folder), "--board", "Pynq-Z1", "--out", str(run),
                          "--set", f"finn.target_fps={target}"])
    assert rc == 0, out
    report = check_build(run, "Pynq-Z1")
    folding = report["folding"]
    if target == "max":
        assert folding["rate_bound"]["by"] != "the target"
    else:  # the cheapest folding that meets the target: slower than the fastest, at or above the target
        assert folding["rate_bound"]["by"] == "the target" and folding["target_fps"] == target
        assert target <= report["totals"]["estimated_fps"] < 4 * target
    assert set(report["verification"]["classes"]) == {"qonnx", "pytorch", "streamlined", "hw"}  # the run's .pth too
    assert report["verification"]["mismatches"] == {"pytorch": 0, "streamlined": 0, "hw": 0}
