"""`make demo`'s config end to end on tiny sizes: every stage it lists runs, FINN builds the model
for ZCU104 (as far as the machine's tools go), the capture of known modulations is classified
through the FINN build, and the summary gives the accelerator's figures (labelled, with the
board's share) and the agreement with the known sequence. Also the capture writer itself: its
segments are the classes it says, in the order it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from sigmf import sigmffile

from toolchain.cli import main
from toolchain.config import load_config
from toolchain.data.captures import known_classes, labelled_spans, open_sigmf
from toolchain.data.classes import CLASSES
from toolchain.data.known_capture import segment, segment_classes, write_capture

REPO = Path(__file__).parents[1]
DEMO = REPO / "configs" / "demo.yaml"
TINY = ["synth.frames_per_pair=4", "data.batch_size=32", "model.filters=4", "model.dense=8",
        "train.epochs=1", "train.threads=1", "export.verify_inputs=2", "finn.verify_inputs=1",
        "finn.verify_synthetic=1", "capture.frames_per_segment=1"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, finn_env):
    out = tmp_path_factory.mktemp("demo") / "run"
    capsys_out = tmp_path_factory.mktemp("log") / "stdout.txt"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", "--config", str(DEMO), "--out", str(out), *[a for s in TINY for a in ("--set", s)]])
    capsys_out.write_text(buf.getvalue())
    assert code == 0, buf.getvalue()[-2000:]
    return out, buf.getvalue()


def test_every_stage_of_the_demo_config_ran(demo_run):
    out, _ = demo_run
    stages = yaml.safe_load(DEMO.read_text())["run"]["stages"]
    assert {"finn_build", "capture", "classify"} <= set(stages)
    manifest = json.loads((out / "manifest.json").read_text())["stages"]
    assert list(manifest) == stages
    for name in ("synthetic.h5", "initial_model.pth", "accuracy.json", "model_export.onnx", "model_cost.json",
                 "finn_output/finn_report.json", "capture.sigmf-meta", "capture.sigmf-data", "classes.json",
                 "classes_timeline.png", "capture.classified.sigmf-meta"):
        assert (out / name).is_file(), name
    assert manifest["classify"]["classify"]["model"] == str(out / "finn_output")  # through the FINN build


def test_summary_gives_the_accelerator_with_labels_and_board_share(demo_run):
    out, printed = demo_run
    summary = printed.split("== summary\n", 1)[1]
    report = json.loads((out / "finn_output" / "finn_report.json").read_text())
    t = report["totals"]
    acc = next(line for line in summary.splitlines() if line.strip().startswith("accelerator"))
    assert f"{t['estimated_fps']:,.0f} frames/s (FINN estimate" in acc and "ZCU104" in acc
    res = next(line for line in summary.splitlines() if line.strip().startswith("resources"))
    assert "the rest FINN estimates" in res and "counted from the generated RTL" in res
    for name in ("LUT", "BRAM36", "DSP"):
        e = t["resources"][name]
        value = e["estimate"] if name == "LUT" else e["counted"]  # the RTL's count where FINN's estimate errs
        share = 100 * value / report["board"]["resources"][name]
        assert re.search(rf"{name} (>= )?{value:,.6g} \({share:.1f} % of {report['board']['resources'][name]:,}\)",
                         res), (name, res)
    if report["steps"]["skipped"]:  # no Vivado here: the build said so in one line and the demo went on
        assert "no Vivado step ran" in res
        assert sum("not found on PATH: skipped" in line for line in printed.splitlines()) == 1


def test_summary_gives_the_agreement_with_the_known_sequence(demo_run):
    out, printed = demo_run
    cls = json.loads((out / "classes.json").read_text())
    meta = json.loads((out / "capture.sigmf-meta").read_text())
    truth = [a["core:label"] for a in meta["annotations"]]  # one frame per segment in the tiny run
    predicted = [f["class"] for f in cls["frames"]]
    assert len(predicted) == len(truth) == 24 and sorted(truth) == sorted(CLASSES)
    agreeing = sum(p == t for p, t in zip(predicted, truth))
    known = cls["summary"]["known_classes"]
    assert (known["frames"], known["agreeing"]) == (24, agreeing)
    line = next(line for line in printed.split("== summary\n", 1)[1].splitlines() if "capture" in line.split()[:1])
    assert f"{agreeing}/24 frames agree with the recording's known classes ({100 * agreeing / 24:.1f} %" in line
    assert line.endswith("classified through finn_output")
    page = (out / "report.html").read_text()  # the run's page shows the sequence and the agreement
    assert ", ".join(truth) in page and f"{agreeing}/24 frames" in page


def test_capture_holds_the_known_sequence(tmp_path):
    cfg = load_config(None, ["capture.frames_per_segment=2", "capture.classes=[BPSK, QPSK, OOK, FM, BPSK]",
                             "synth.channel.enabled=false"])
    meta = write_capture(tmp_path / "c.sigmf-meta", cfg.synth, cfg.capture)
    handle = sigmffile.fromfile(str(tmp_path / "c.sigmf-meta"))
    n = 2 * cfg.synth.length
    assert handle.sample_count == 5 * n and handle.get_global_field("core:datatype") == "cf32_le"
    spans = [(a["core:sample_start"], a["core:sample_count"], a["core:label"]) for a in handle.get_annotations()]
    assert spans == [(i * n, n, c) for i, c in enumerate(["BPSK", "QPSK", "OOK", "FM", "BPSK"])]
    x = handle.read_samples()
    for i, name in enumerate(cfg.capture.classes):  # the samples are the generator's, segment by segment
        np.testing.assert_array_equal(x[i * n:(i + 1) * n], segment(cfg.synth, cfg.capture, i, name))
    seg = [x[i * n:(i + 1) * n] for i in range(5)]

    def line(z, k):  # a k-th power spectral line at DC: real-valued symbols (BPSK, OOK) make z^2 one
        return abs(np.mean(z ** k)) / np.mean(abs(z) ** k)

    assert line(seg[0], 2) > 0.9 and line(seg[2], 2) > 0.9 and line(seg[1], 2) < 0.1  # BPSK, OOK vs QPSK
    assert np.std(abs(seg[3])) / np.mean(abs(seg[3])) < 0.01  # FM: constant envelope (noise 60 dB down)
    assert not np.array_equal(seg[0], seg[4])  # the same class twice: two transmissions, not a copy
    assert meta["global"]["core:sample_rate"] == cfg.capture.sample_rate


def test_default_order_is_all_classes_shuffled_by_the_seed():
    a = segment_classes(load_config(None, ["capture.seed=1"]).capture)
    b = segment_classes(load_config(None, ["capture.seed=2"]).capture)
    assert sorted(a) == sorted(b) == sorted(CLASSES) and a != b and a != list(CLASSES)


def test_known_classes_of_frames(tmp_path):
    cfg = load_config(None, ["capture.frames_per_segment=1", "capture.classes=[QPSK, FM]"])
    write_capture(tmp_path / "c.sigmf-meta", cfg.synth, cfg.capture)
    spans = labelled_spans(open_sigmf(tmp_path / "c.sigmf-meta"), list(CLASSES))
    L = cfg.synth.length
    starts = np.array([0, L // 2, L, 2 * L])
    # whole frames in a segment get its class; one straddling two segments, or past the end, none
    assert known_classes(spans, starts, L).tolist() == [CLASSES.index("QPSK"), -1, CLASSES.index("FM"), -1]
    overlapping = np.array([[0, 4 * L, 3], [L, 2 * L, 3], [2 * L, 3 * L, 5]])  # nested: same class, then another
    assert known_classes(overlapping, np.array([0, L, 2 * L, 3 * L]), L).tolist() == [3, 3, -1, 3]


def test_classify_predictions_are_not_taken_for_known_classes(demo_run):
    """Classifying the demo's classified recording again: its per-frame predictions (annotations
    classify wrote) are not known classes; the segments' labels still are."""
    out, _ = demo_run
    spans = labelled_spans(open_sigmf(out / "capture.classified.sigmf-meta"), list(CLASSES))
    original = labelled_spans(open_sigmf(out / "capture.sigmf-meta"), list(CLASSES))
    np.testing.assert_array_equal(spans, original)
    assert len(spans) == 24


def test_capture_stage_alone_writes_both_files_and_a_manifest(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["capture", "--out", str(out), "--snr", "10", "--frames-per-segment", "1"]) == 0
    assert (out / "capture.sigmf-data").stat().st_size == 24 * 1024 * 8
    entry = json.loads((out / "manifest.json").read_text())["stages"]["capture"]
    assert entry["capture"]["snr"] == 10 and len(entry["capture"]["classes"]) == 24
    assert "24 segments of 1 frames at 10 dB" in capsys.readouterr().out
