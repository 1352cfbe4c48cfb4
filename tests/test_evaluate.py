"""Stage `evaluate`: metrics against a hand-computed example, the official .pth and its QONNX
export agreeing frame by frame, batched qonnx execution against frame-by-frame execution,
the files written, and bad input refused before anything is written."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from radioml_files import write_radioml

from toolchain.cli import main
from toolchain.config import SynthConfig, load_config
from toolchain.data.dataset import RadioMLDataset
from toolchain.reports.accuracy import accuracy_report, confusion_matrix, format_summary

REF = Path(__file__).resolve().parents[1] / "models/reference/vgg10_w8a8_baseline"
PTH = REF / "pretrained_VGG10_w8a8_20.pth"
ONNX = REF / "pretrained_VGG10_w8a8_20_export.onnx"


# ------------------------------------------------------------------------------- metrics
def test_metrics_hand_computed():
    # 3 classes x 2 SNRs, one frame each; wrong: (OOK, 10 dB) -> 4ASK and (8ASK, 10 dB) -> OOK.
    labels = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 0]
    snrs = [0.0, 10.0, 0.0, 10.0, 0.0, 10.0]
    r = accuracy_report(labels, preds, snrs, confusion_snrs=[10, 20])
    assert r["overall"] == {"frames": 6, "correct": 4, "accuracy": 4 / 6}
    assert r["per_snr"] == [{"snr": 0, "frames": 3, "correct": 3, "accuracy": 1.0},
                            {"snr": 10, "frames": 3, "correct": 1, "accuracy": 1 / 3}]
    assert r["highest_snr"]["snr"] == 10 and r["meets_threshold"] is True
    assert [(c["class"], c["frames"], c["correct"]) for c in r["per_class"]] == [("OOK", 2, 1), ("4ASK", 2, 2), ("8ASK", 2, 1)]
    assert r["per_class_snr"] == {"classes": ["OOK", "4ASK", "8ASK"], "snrs": [0, 10],
                                  "frames": [[1, 1], [1, 1], [1, 1]],
                                  "accuracy": [[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]}
    c = r["confusion"]
    assert c["classes"] == ["OOK", "4ASK", "8ASK"] and c["class_indices"] == [0, 1, 2]
    assert c["overall"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows true, columns predicted
    assert c["per_snr"] == [{"snr": 10, "frames": 3, "matrix": [[0, 1, 0], [0, 1, 0], [1, 0, 0]]}]
    assert c["requested_snrs"] == [10, 20] and c["missing_snrs"] == [20]
    assert "66.67 %" in format_summary(r) and "meets" in format_summary(r)


def test_confusion_axes_include_predicted_only_classes():
    r = accuracy_report([0, 0, 0], [0, 5, 5], [2.5, 2.5, 2.5])
    assert r["confusion"]["classes"] == ["OOK", "8PSK"] and r["confusion"]["overall"] == [[1, 2], [0, 0]]
    assert r["per_snr"][0]["snr"] == 2.5 and r["meets_threshold"] is False
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0]), np.array([3]), [0, 1])


# ------------------------------------------------------------------------------- real models
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from toolchain.data.synth import generate

    # 24 classes x {0, 30} dB x 2 frames; the official test split takes 1 frame per block: 48.
    return generate(tmp_path_factory.mktemp("data") / "small.h5", SynthConfig(frames_per_pair=2, snrs=[0, 30]),
                    progress=False)


@pytest.fixture(scope="module")
def test_frames(small):
    ds = RadioMLDataset.splits(small)["test"]
    x, labels, _ = ds.read(np.arange(len(ds)))
    return x, labels


def predictor(path, *overrides):
    from toolchain.stages.evaluate import load_predictor

    return load_predictor(path, load_config(None, list(overrides)), 1024)


def test_official_pth_and_onnx_predict_the_same(test_frames):
    x, _ = test_frames
    torch_logits = predictor(PTH, "eval.device=cpu")(x)
    onnx_logits = predictor(ONNX)(x)
    assert len(x) == 48
    assert (torch_logits.argmax(1) == onnx_logits.argmax(1)).all()
    # Not bit-exact: now and then float rounding puts one activation on the other side of a
    # quantization step in one of the two (docs/evaluate.md); that moves logits by a few steps.
    assert np.abs(torch_logits - onnx_logits).max() < 0.5


def test_batched_onnx_equals_frame_by_frame(test_frames):
    x, _ = test_frames
    single = predictor(ONNX, "eval.onnx_batch_size=1")
    assert single.batch_size == 1
    reference = np.concatenate([single(x[i:i + 1]) for i in range(len(x))])
    batched = predictor(ONNX, "eval.onnx_batch_size=7")  # 48 = 6 x 7 + 6: the last batch is padded
    logits = np.concatenate([batched(x[i:i + 7]) for i in range(0, len(x), 7)])
    assert logits.shape == (48, 24)
    assert (logits.argmax(1) == reference.argmax(1)).all()
    assert np.abs(logits - reference).max() < 0.5


def test_onnx_exported_with_another_batch_size(test_frames, tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    batch4 = tmp_path / "batch4.onnx"
    cleanup_model(ModelWrapper(str(ONNX)), override_inpsize=4).save(str(batch4))
    x = test_frames[0][:10]
    for size in (1, 3):  # frame by frame, and batches that split the 4-frame export's own
        p = predictor(batch4, f"eval.onnx_batch_size={size}")
        logits = np.concatenate([p(x[i:i + size]) for i in range(0, len(x), size)])
        assert (logits.argmax(1) == predictor(ONNX)(x).argmax(1)).all()


@pytest.fixture(scope="module")
def runs(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    for name, model in (("pth", PTH), ("onnx", ONNX)):
        # cpu: the confusion matrices of both are compared, and a GPU sums in yet another order
        assert main(["evaluate", str(model), "--data", str(small), "--out", str(out / name),
                     "--set", "eval.device=cpu"]) == 0
    return out


def test_outputs_and_schema(runs, small):
    docs = {k: json.loads((runs / k / "accuracy.json").read_text()) for k in ("pth", "onnx")}
    for kind, doc in docs.items():
        assert doc["format"] == "toolchain-accuracy/1"
        assert doc["model"]["kind"] == kind and doc["model"]["path"].endswith((".pth", ".onnx"))
        assert doc["data"] == {"path": str(small), "split": "test", "frames_in_split": 48, "frames_evaluated": 48,
                               "max_frames": None, "frame_length": 1024, "classes": doc["data"]["classes"],
                               "snrs": [0, 30]}
        assert len(doc["data"]["classes"]) == 24 and doc["overall"]["frames"] == 48
        assert sum(p["frames"] for p in doc["per_snr"]) == 48 and len(doc["per_class"]) == 24
        assert np.sum(doc["confusion"]["overall"]) == 48 and np.trace(doc["confusion"]["overall"]) == doc["overall"]["correct"]
        assert [m["snr"] for m in doc["confusion"]["per_snr"]] == [0, 30]
        assert doc["confusion"]["missing_snrs"] == [10]  # default eval.confusion_snrs: 0, 10, 30
        assert doc["inference"]["frames_per_second"] > 0 and doc["highest_snr"]["snr"] == 30
        for png in ("accuracy_vs_snr.png", "confusion_matrix.png"):
            data = (runs / kind / png).read_bytes()
            assert data.startswith(b"\x89PNG") and len(data) > 10_000
        entry = json.loads((runs / kind / "manifest.json").read_text())["stages"]["evaluate"]
        assert set(entry["outputs"].values()) == {"accuracy.json", "accuracy_vs_snr.png", "confusion_matrix.png"}
        assert str(small) in entry["inputs"] and len(entry["inputs"]) == 2
    assert docs["pth"]["confusion"] == docs["onnx"]["confusion"]
    assert docs["onnx"]["inference"]["engine"] == "qonnx.core.onnx_exec.execute_onnx"


def test_max_frames_takes_the_first_frames_in_file_order(small, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", str(PTH), "--data", str(small), "--out", str(out), "--set", "eval.max_frames=5",
                 "--set", "eval.confusion_snrs=[30]"]) == 0
    doc = json.loads((out / "accuracy.json").read_text())
    assert doc["data"]["frames_evaluated"] == 5 and doc["data"]["frames_in_split"] == 48
    # The test split holds 1 frame per (class, SNR) block, blocks in file order: OOK 0/30 dB, 4ASK 0/30, 8ASK 0.
    assert doc["data"]["classes"] == ["OOK", "4ASK", "8ASK"] and doc["confusion"]["missing_snrs"] == []
    assert "accuracy" in capsys.readouterr().out


def test_pipeline_uses_the_runs_checkpoint(small, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(PTH, out / "initial_model.pth")  # a bare state_dict: model.* defaults rebuild it
    assert main(["run", "--out", str(out), "--set", "run.stages=[evaluate]", "--set", f"data.path={small}"]) == 0
    doc = json.loads((out / "accuracy.json").read_text())
    assert doc["model"] == {"path": str(out / "initial_model.pth"), "kind": "pth", "name": "vgg10"}


# ------------------------------------------------------------------------------- bad input
def assert_refused(argv, out, capsys, *needles):
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


@pytest.mark.parametrize("make, args, needles", [
    (None, ["missing.pth"], ["missing.pth: no such checkpoint file"]),
    (None, ["missing.onnx"], ["missing.onnx: no such model file"]),
    ("text", ["bad.onnx"], ["bad.onnx: not an ONNX model"]),
    (None, [str(PTH), "--set", "model.filters=32"], ["weights do not fit model 'vgg10'"]),
    (None, [str(ONNX), "--set", "eval.split=val", "--set", "data.val_fraction=0"], ["'eval.split'", "no frames"]),
    (None, [], ["no final_model.pth or initial_model.pth"]),
])
def test_bad_model_input(make, args, needles, small, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if make == "text":
        Path("bad.onnx").write_text("hello, not a model\n")
    assert_refused(["evaluate", *args, "--data", str(small)], tmp_path / "run", capsys, *needles)


@pytest.mark.parametrize("model, needle", [(PTH, "takes frames of 1024 samples"), (ONNX, "expected input (batch, 2, 32)")])
def test_frame_length_mismatch(model, needle, tmp_path, capsys):
    data = write_radioml(tmp_path / "short.h5", per_block=10, snrs=(0,), length=32)
    assert_refused(["evaluate", str(model), "--data", str(data)], tmp_path / "run", capsys, needle)


def test_missing_data_file(tmp_path, capsys):
    assert_refused(["evaluate", str(PTH), "--data", str(tmp_path / "nope.h5")], tmp_path / "run", capsys, "nope.h5")


# ------------------------------------------------------------------------------- small files
def test_a_one_frame_file_and_split_all(tmp_path, capsys):
    """The official split of a one-frame block puts the frame into test and none into train:
    evaluate takes it; `eval.split: all` evaluates every frame of the file, no split."""
    one = write_radioml(tmp_path / "one.h5", per_block=1, snrs=(30,), labels=[3], length=1024)
    assert main(["evaluate", str(PTH), "--data", str(one), "--out", str(tmp_path / "a")]) == 0
    doc = json.loads((tmp_path / "a" / "accuracy.json").read_text())
    assert doc["data"]["frames_evaluated"] == 1 and doc["data"]["split"] == "test"

    many = write_radioml(tmp_path / "many.h5", per_block=5, snrs=(0, 30), labels=[0, 3], length=1024)
    assert main(["evaluate", str(PTH), "--data", str(many), "--out", str(tmp_path / "b"),
                 "--set", "eval.split=all"]) == 0
    doc = json.loads((tmp_path / "b" / "accuracy.json").read_text())
    assert doc["data"]["frames_evaluated"] == doc["data"]["frames_in_split"] == 20 and doc["data"]["split"] == "all"
    assert "20 frames" in capsys.readouterr().out
