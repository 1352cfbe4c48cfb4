import hashlib
import json
import re
import subprocess
import sys

import pytest
from radioml_files import write_radioml

from toolchain.cli import build_parser, main
from toolchain.rundir import update_manifest
from toolchain.stages import DEFAULT_ORDER, STAGES

PIPELINE_STAGES = ["train_initial", "convert", "prune", "reduce_bits", "evaluate", "export_onnx", "export_nir",
                   "export_inference_cost", "finn_build", "capture", "classify", "report"]


def subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_registry_cli_and_default_order_agree():
    commands = subcommands(build_parser())
    assert DEFAULT_ORDER == list(STAGES) == ["data", *PIPELINE_STAGES]
    assert set(commands) == set(PIPELINE_STAGES) | {"run", "data"}
    assert "prepare" in subcommands(commands["data"])
    for name in STAGES:
        if STAGES[name].implemented:
            assert hasattr(STAGES[name].module(), "run")


@pytest.mark.parametrize("argv", [[], *[[s] for s in PIPELINE_STAGES], ["run"], ["data"],
                                  *[["data", t] for t in ("synth", "show", "info", "check", "prepare")]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: toolchain" in capsys.readouterr().out


@pytest.fixture
def planned_stage(monkeypatch):
    """A registered stage a later release delivers, as the registry holds them until then."""
    from toolchain import stages

    stage = stages.Stage("future_stage", "a stage of a later release", planned="a later issue")
    monkeypatch.setitem(stages.STAGES, stage.name, stage)
    return stage.name


def test_planned_stage_exits_2_and_writes_nothing(planned_stage, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([planned_stage, "some_input", "--out", str(out), "--model", "vgg10"]) == 2
    err = capsys.readouterr().err
    assert "not implemented yet" in err and planned_stage in err and err.count("\n") == 1
    assert not out.exists()
    assert main(["run", "--out", str(out), "--set", f"run.stages=[data, {planned_stage}]"]) == 2
    assert not out.exists(), "run checks every stage before doing any work"


# `python -m toolchain.<stage>` is runpy running the module as __main__: one interpreter runs them
# all that way (each is a 3-line shim into cli.stage_main; an interpreter apiece cost ~2 s of a core)
RUN_AS_MAIN = """
import runpy, sys
for stage in sys.argv[1:]:
    sys.argv = [stage, "--help"]
    try:
        runpy.run_module(f"toolchain.{stage}", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        print(f"== {stage} exit {exc.code}", flush=True)
"""


def test_python_m_entry_points(tmp_path):
    done = subprocess.run([sys.executable, "-m", "toolchain.train_initial", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: toolchain train_initial" in done.stdout
    done = subprocess.run([sys.executable, "-c", RUN_AS_MAIN, *PIPELINE_STAGES], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    helps = re.split(r"^== (\w+) exit (\S+)\n", done.stdout, flags=re.M)
    assert [(s, code) for s, code in zip(helps[1::3], helps[2::3])] == [(s, "0") for s in PIPELINE_STAGES]
    for stage, text in zip(PIPELINE_STAGES, helps[0::3]):
        assert f"usage: toolchain {stage}" in text, stage
    done = subprocess.run([sys.executable, "-m", "toolchain", "data", "info", str(tmp_path / "none.h5")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip().endswith(")") and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "toolchain", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("toolchain ")


def test_run_refuses_unknown_stages_before_work(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--set", "run.stages=[data, trian]"]) == 1
    assert "'trian'" in capsys.readouterr().err and not out.exists()


def test_data_stage_writes_artifacts_and_manifest(tmp_path, capsys):
    data = write_radioml(tmp_path / "in.h5", per_block=10, snrs=(0, 10))
    out = tmp_path / "run"
    assert main(["data", "prepare", str(data), "--out", str(out), "--set", "data.val_fraction=0.2"]) == 0
    summary = json.loads((out / "data_summary.json").read_text())
    assert summary["split_sizes"] == {"train": 24 * 2 * 7, "val": 24 * 2 * 2, "test": 24 * 2 * 1}
    assert (out / "data_overview.png").stat().st_size > 10_000
    entry = json.loads((out / "manifest.json").read_text())["stages"]["data"]
    assert entry["status"] == "ok" and entry["config"]["data"]["val_fraction"] == 0.2
    assert entry["inputs"][str(data)]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert entry["versions"]["torch"].startswith("2.13") and entry["versions"]["finn-plus"] == "1.6.1"
    assert entry["started"] <= entry["finished"] and "git_commit" in entry
    assert set(entry["outputs"].values()) == {"data_summary.json", "data_overview.png"}
    assert "train 336" in capsys.readouterr().out


def test_manifest_keeps_one_entry_per_stage(tmp_path):
    update_manifest(tmp_path, "data", {"status": "ok", "n": 1})
    update_manifest(tmp_path, "train_initial", {"status": "ok"})
    update_manifest(tmp_path, "data", {"status": "ok", "n": 2})
    stages = json.loads((tmp_path / "manifest.json").read_text())["stages"]
    assert list(stages) == ["data", "train_initial"] and stages["data"]["n"] == 2


def test_cnn_pipeline_end_to_end(tmp_path, capsys):
    """`toolchain run` over the whole CNN path on generated data, with a tiny model."""
    out = tmp_path / "run"
    sets = ["run.stages=[data, train_initial, evaluate, export_onnx, export_inference_cost]",
            "synth.frames_per_pair=4", "synth.snrs=[0, 30]", "data.batch_size=32", "model.filters=4",
            "model.dense=8", "model.weight_bits=4", "model.act_bits=4", "train.epochs=1", "train.threads=1",
            "export.verify_inputs=2"]
    assert main(["run", "--out", str(out), *[a for s in sets for a in ("--set", s)]]) == 0
    printed = capsys.readouterr().out
    assert "== summary" in printed and "challenge score" in printed and "accuracy" in printed
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert list(stages) == ["data", "train_initial", "evaluate", "export_onnx", "export_inference_cost"]
    assert "== report" in printed and (out / "report.html").is_file()  # run ends with the page, unlisted
    for name in ("synthetic.h5", "initial_model.pth", "accuracy.json", "model_export.onnx", "model_cost.json"):
        assert (out / name).is_file(), name
    cost = json.loads((out / "model_cost.json").read_text())
    assert cost["total_mem_w_bits"] == 4 * cost["total_mem_w_elems"]  # the 4-bit weights reached the cost report
