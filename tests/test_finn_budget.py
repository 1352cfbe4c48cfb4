"""Builds that fit the board they are built for: the counted DSPs and memories of every
`finn_build` (the RTL's own primitives, `rtl_count`) within the board's budget, for the w4a4
VGG10 and the official w8a8 baseline on every board (slow; the default suite checks the
baseline's builds in test_finn_autofold.py); a budget nothing fits is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from checks import estimate_only_build
from toolchain.cli import main

REPO = Path(__file__).parents[1]
BUILD = REPO / "build" / "vgg10-radioml"
BASELINE_PTH = REPO / "models" / "reference" / "vgg10_w8a8_baseline" / "pretrained_VGG10_w8a8_20.pth"
BOARDS = ("ZCU104", "Pynq-Z1", "U250")


@pytest.fixture(scope="module")
def build_folder(tmp_path_factory):
    return estimate_only_build(BUILD, tmp_path_factory)


@pytest.fixture(scope="module")
def w4a4(tmp_path_factory, finn_env) -> Path:
    """The untrained w4a4 32-filter VGG10 (the finn-examples model), exported."""
    from toolchain.config import ModelConfig
    from toolchain.models import build_model
    from toolchain.models.export_qonnx import export_qonnx

    out = tmp_path_factory.mktemp("w4a4") / "w4a4.onnx"
    torch.manual_seed(0)
    cfg = ModelConfig(weight_bits=4, act_bits=4, filters=32)
    model = build_model(cfg)
    model.train()(torch.randn(64, 2, cfg.input_length))
    export_qonnx(model.eval(), cfg.input_length, out)
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, finn_env) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "baseline.onnx"
    assert main(["export_onnx", str(BASELINE_PTH), "--model", "vgg10", "--out", str(out),
                 "--set", "export.verify_inputs=1"]) == 0
    return out


def automatic(build_folder: Path, tmp_path: Path) -> Path:
    """The build folder without hand folding files: every board folded automatically."""
    import shutil

    folder = tmp_path / "b"
    shutil.copytree(build_folder, folder)
    for hand in (folder / "folding_config").glob("*.json"):
        hand.unlink()
    return folder


def build(model: Path, folder: Path, board: str, run: Path, *extra: str) -> int:
    return main(["finn_build", str(model), "--build", str(folder), "--board", board, "--out", str(run),
                 "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=0", *extra])


def assert_within_budget(run: Path) -> dict:
    report = json.loads((run / "finn_output" / "finn_report.json").read_text())
    totals, folding = report["totals"], report["folding"]
    for res in ("DSP", "BRAM_18K", "URAM"):
        counted, budget = totals["resources"][res]["counted"], folding["budget"][res]
        assert counted <= budget + 1e-9, (report["board"]["name"], res, counted, budget)
    assert totals["budget_check"]["within_budget"] and folding["fits"]
    return report


def test_a_budget_no_folding_meets_is_one_line_and_nothing_is_kept(w4a4, build_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert build(w4a4, automatic(build_folder, tmp_path), "ZCU104", run, "--set", "finn.budget=0.01") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "board ZCU104: no folding fits 1 % of the board" in err[0]
    assert "DSP" in err[0] and "still needs" in err[0]
    assert not (run / "finn_output").exists() and not (run / "manifest.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", ["w4a4", "baseline"])
def test_every_board_fits_by_the_counted_figures(w4a4, baseline, build_folder, tmp_path, name, board):
    run = tmp_path / "run"
    assert build({"w4a4": w4a4, "baseline": baseline}[name], automatic(build_folder, tmp_path), board, run) == 0
    assert_within_budget(run)
