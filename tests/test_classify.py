"""Stage `classify`: the same frames give the same classes through a checkpoint, its QONNX export
and its FINN build; SigMF, raw and multi-channel input, resampling and hop; the outputs (JSON,
CSV, timeline, SigMF annotations that the `sigmf` package reads back on the original data
file); memory bounded on a capture larger than what is kept; RadioML HDF5 with accuracy; bad
input refused with one line and nothing written."""

from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from radioml_files import write_radioml
from sigmf import SigMFFile, sigmffile

from toolchain.checkpoint import save_checkpoint
from toolchain.cli import main
from toolchain.config import ModelConfig, SynthConfig
from toolchain.data.classes import CLASSES
from toolchain.models import build_model

REPO = Path(__file__).parents[1]
CLASS_STEP = 3  # the capture: one clean 30 dB frame of every third class, back to back


def synthetic_frames(length: int, classes=range(0, 24, CLASS_STEP)) -> np.ndarray:
    """(n, length) complex frames of the given classes, unit power."""
    from toolchain.data.synth import generate_blocks

    cfg = SynthConfig(frames_per_pair=1, snrs=[30], length=length, seed=0)
    return np.concatenate([generate_blocks(cfg, ci, range(0, 1)) for ci in classes])


def settle_batchnorm(model, frames: np.ndarray):
    """BatchNorm statistics of these frames (one pass, cumulative average): an untrained network
    that still tells frames apart, so agreement between engines is not agreement on one class."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.momentum = None
    x = torch.from_numpy(np.stack([frames.real, frames.imag], 1).astype(np.float32))
    with torch.no_grad():
        model.train()(x)
    return model.eval()


def write_sigmf(folder: Path, name: str, x: np.ndarray, datatype="cf32_le", rate=1e6, **extra) -> Path:
    """A recording of complex samples x (n,) or (n, channels)."""
    data = folder / f"{name}.sigmf-data"
    if datatype.startswith("ci16"):
        np.stack([x.real, x.imag], -1).round().astype("<i2").tofile(data)
    else:
        x.astype(np.complex64).tofile(data)
    info = {"core:datatype": datatype, "core:sample_rate": rate, **extra}
    SigMFFile(data_file=str(data), global_info=info).tofile(folder / f"{name}.sigmf-meta")
    return folder / f"{name}.sigmf-meta"


def classify(tmp, out: str, *argv) -> dict:
    assert main(["classify", *map(str, argv), "--out", str(tmp / out)]) == 0
    return json.loads((tmp / out / "classes.json").read_text())


def classes_of(doc: dict) -> list[str]:
    return [f["class"] for f in doc["frames"]]


@pytest.fixture(scope="module")
def cnn(tmp_path_factory, finn_env):
    """The 4-bit, 32-filter VGG10 that the shipped FINN build folder folds: checkpoint, QONNX
    export and finn_build output (estimates and code, no Vivado needed)."""
    out = tmp_path_factory.mktemp("cnn")
    torch.manual_seed(0)
    cfg = ModelConfig(weight_bits=4, act_bits=4, filters=32)
    model = settle_batchnorm(build_model(cfg), synthetic_frames(1024, range(24)))
    ckpt = save_checkpoint(out / "w4a4.pth", model, cfg)
    assert main(["export_onnx", str(ckpt), "--out", str(out / "w4a4.onnx"), "--set", "export.verify_inputs=2"]) == 0
    assert main(["finn_build", str(out / "w4a4.onnx"), "--build", str(REPO / "build" / "vgg10-radioml"), "--out",
                 str(out / "build"), "--set", "finn.verify_inputs=1", "--set", "finn.verify_synthetic=2"]) == 0
    return {"pth": ckpt, "onnx": out / "w4a4.onnx", "finn": out / "build" / "finn_output"}


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """8 frames of 8 classes as a ci16 SigMF recording (1 MHz), amplitude 3000 counts."""
    folder = tmp_path_factory.mktemp("capture")
    x = synthetic_frames(1024).ravel() * 3000
    return write_sigmf(folder, "rec", x, "ci16_le", 1e6, **{"core:description": "eight modulations"}), x


def test_checkpoint_qonnx_and_finn_build_give_the_same_classes(cnn, capture, tmp_path, capsys):
    meta, _ = capture
    docs = {kind: classify(tmp_path, kind, meta, "--model", path) for kind, path in cnn.items()}
    classes = classes_of(docs["pth"])
    assert len(classes) == 8 and len(set(classes)) >= 3, classes  # the model tells the frames apart
    assert classes_of(docs["onnx"]) == classes and classes_of(docs["finn"]) == classes
    for a, b in zip(docs["pth"]["frames"], docs["onnx"]["frames"]):
        assert [t["class"] for t in a["top3"]] == [t["class"] for t in b["top3"]]
        assert a["probability"] == pytest.approx(b["probability"], abs=2e-3)
    finn = docs["finn"]["frames"][0]
    assert finn["probability"] is None and "score" in finn["top3"][0]  # the accelerator's integer scores
    assert docs["finn"]["model"]["engine"].startswith("finn.core.onnx_exec")
    out = capsys.readouterr().out
    assert out.count("frames/s") == 3


def test_outputs_json_csv_timeline_and_sigmf_annotations(cnn, capture, tmp_path):
    meta, _ = capture
    doc = classify(tmp_path, "run", meta, "--model", cnn["onnx"], "--hop", 512)
    assert doc["input"]["hop"] == 512 and len(doc["frames"]) == (8 * 1024 - 1024) // 512 + 1
    first = doc["frames"][1]
    assert first["sample_start"] == 512 and first["sample_count"] == 1024 and len(first["top3"]) == 3
    assert first["class"] in CLASSES and 0 < first["probability"] <= 1
    assert doc["summary"]["frames"] == 15 and doc["summary"]["frames_per_second"] > 0
    rows = list(csv.DictReader((tmp_path / "run" / "classes.csv").open()))
    assert [r["class"] for r in rows] == classes_of(doc) and rows[1]["sample_start"] == "512"
    assert (tmp_path / "run" / "classes_timeline.png").stat().st_size > 10_000

    written = tmp_path / "run" / "rec.classified.sigmf-meta"
    back = sigmffile.fromfile(written)  # the sigmf package finds the original data through core:dataset
    back.validate()
    assert back.data_file.resolve() == meta.with_suffix(".sigmf-data").resolve()
    assert np.array_equal(back.read_samples(0, 100), sigmffile.fromfile(meta).read_samples(0, 100))
    assert back.get_global_field("core:description") == "eight modulations"
    notes = back.get_annotations()
    assert [a["core:label"] for a in notes] == classes_of(doc)
    assert [a["core:sample_start"] for a in notes] == [f["sample_start"] for f in doc["frames"]]
    assert all(a["core:sample_count"] == 1024 and 0 < a["toolchain:probability"] <= 1 for a in notes)
    assert {e["name"] for e in back.get_global_field("core:extensions")} == {"toolchain"}
    assert not list((tmp_path / "run").glob("*.sigmf-data")) and not list((tmp_path / "run").glob(".*.part"))


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory):
    """A 128-sample VGG10 (fast to run) for the input formats."""
    out = tmp_path_factory.mktemp("small")
    torch.manual_seed(1)
    cfg = ModelConfig(input_length=128, filters=8, dense=16, conv_layers=4)
    model = settle_batchnorm(build_model(cfg), synthetic_frames(128, range(24)))
    return save_checkpoint(out / "small.pth", model, cfg)


def test_raw_multichannel_and_the_same_samples_as_sigmf(small_cnn, tmp_path):
    x = synthetic_frames(128, range(24)).ravel().astype(np.complex64)
    meta = write_sigmf(tmp_path, "one", x)
    ref = classes_of(classify(tmp_path, "sigmf", meta, "--model", small_cnn))
    assert len(ref) == 24 and len(set(ref)) >= 3

    x.tofile(tmp_path / "cap.cf32")
    doc = classify(tmp_path, "raw", tmp_path / "cap.cf32", "--model", small_cnn, "--format", "cf32", "--rate", 2e6)
    assert classes_of(doc) == ref
    written = sigmffile.fromfile(tmp_path / "raw" / "cap.cf32.classified.sigmf-meta")
    assert written.get_global_field("core:datatype") == "cf32_le"
    assert written.get_global_field("core:sample_rate") == 2e6 and len(written.get_annotations()) == 24

    # ci8 at a tenth of full scale: quantisation changes a few samples, the unit-power
    # normalisation removes the scale
    np.stack([x.real, x.imag], -1).__mul__(40).round().astype(np.int8).tofile(tmp_path / "cap.ci8")
    doc = classify(tmp_path, "ci8", tmp_path / "cap.ci8", "--model", small_cnn, "--format", "ci8")
    assert np.mean(np.array(classes_of(doc)) == np.array(ref)) >= 0.75

    noise = (np.random.default_rng(0).standard_normal(x.size) * 0.1).astype(np.complex64)
    two = write_sigmf(tmp_path, "two", np.stack([noise, x], 1), **{"core:num_channels": 2})
    assert classes_of(classify(tmp_path, "ch1", two, "--model", small_cnn, "--channel", 1)) == ref


def test_resampling_matches_the_whole_capture_and_maps_back_to_input_samples(small_cnn, tmp_path):
    from scipy.signal import resample_poly

    from toolchain.data.captures import Resampling, open_raw, stream

    x = synthetic_frames(128, range(8)).ravel().astype(np.complex64)
    x.tofile(tmp_path / "cap.cf32")
    cap = open_raw(tmp_path / "cap.cf32", "cf32", None)
    for text in ("3/2", "2/5", "8/3"):
        r = Resampling.parse(text)
        chunked = np.concatenate(list(stream(cap, 100, r)))
        whole = resample_poly(x, r.up, r.down)
        assert len(chunked) in (len(whole), len(whole) - 1)
        assert np.allclose(chunked, whole[: len(chunked)], atol=1e-6), text

    doc = classify(tmp_path, "run", tmp_path / "cap.cf32", "--model", small_cnn, "--format", "cf32",
                   "--resample", "2/1", "--hop", 64)
    assert len(doc["frames"]) == (2 * x.size - 128) // 64 + 1
    assert [f["sample_start"] for f in doc["frames"][:3]] == [0, 32, 64]
    assert doc["frames"][0]["sample_count"] == 64 and doc["input"]["resample"] == "2/1"


def test_memory_does_not_grow_with_the_capture(small_cnn, tmp_path):
    """Captures of 4 and 32 MB read in 64 k-sample chunks: Python's peak allocation (traced by
    tracemalloc, numpy's included) is the same for both, ~16 MB of model, plot and buffers, not
    samples; the frames equal those of one big read."""
    rng = np.random.default_rng(0)
    chunk = 1 << 19
    with open(tmp_path / "big.cf32", "wb") as f:
        for _ in range(8):
            (rng.standard_normal(chunk) + 1j * rng.standard_normal(chunk)).astype(np.complex64).tofile(f)
    with open(tmp_path / "big.cf32", "rb") as f, open(tmp_path / "small.cf32", "wb") as g:
        g.write(f.read(8 * chunk))  # the first eighth
    size = (tmp_path / "big.cf32").stat().st_size
    assert size == 32 << 20

    def peak(name: str) -> tuple[int, dict]:
        args = [tmp_path / name, "--model", small_cnn, "--format", "cf32", "--hop", 65536,
                "--set", "classify.chunk_samples=65536"]
        tracemalloc.start()
        try:
            doc = classify(tmp_path, f"run_{name}", *args)
            return tracemalloc.get_traced_memory()[1], doc
        finally:
            tracemalloc.stop()

    peak("small.cf32")  # imports and caches settle
    small, _ = peak("small.cf32")
    big, doc = peak("big.cf32")
    assert len(doc["frames"]) == (8 * chunk - 128) // 65536 + 1
    assert big < 1.2 * small + (1 << 20), f"peak {big / 1e6:.1f} MB vs {small / 1e6:.1f} MB"
    args = [tmp_path / "big.cf32", "--model", small_cnn, "--format", "cf32", "--hop", 65536]
    assert classes_of(classify(tmp_path, "one_read", *args, "--set", "classify.chunk_samples=4194304")) == \
        classes_of(doc)


def test_radioml_hdf5_every_frame_with_accuracy(cnn, tmp_path, capsys):
    from toolchain.data.synth import generate

    data = generate(tmp_path / "d.h5", SynthConfig(frames_per_pair=1, snrs=[0, 30]), progress=False)
    doc = classify(tmp_path, "run", data, "--model", cnn["onnx"])
    assert len(doc["frames"]) == 48 and doc["frames"][5]["sample_start"] == 5 * 1024
    acc = doc["summary"]["accuracy"]
    assert [p["snr"] for p in acc["per_snr"]] == [0, 30] and 0 <= acc["overall"]["accuracy"] <= 1
    assert not (tmp_path / "run" / "d.classified.sigmf-meta").exists()
    assert "accuracy" in capsys.readouterr().out


SNN = ModelConfig(name="snn", input_length=256, snn_group=32, snn_resolution=8, snn_filters=[4], snn_kernel=3,
                  snn_threshold=40, snn_leak_shift=3, weight_bits=6)


@pytest.fixture(scope="module")
def snn(tmp_path_factory, finn_env):
    """A small untrained SNN (8 x 8 plane, 4 filters 3x3, T = 8 steps of 32 samples):
    checkpoint, QONNX export and finn_build output through the shipped SNN build folder."""
    import shutil

    if shutil.which("g++") is None:
        pytest.skip("g++ not found: the SNN build's C simulation of its LIF kernels needs it")
    out = tmp_path_factory.mktemp("snn")
    torch.manual_seed(0)
    ckpt = save_checkpoint(out / "snn.pth", build_model(SNN).eval(), SNN)
    assert main(["export_onnx", str(ckpt), "--out", str(out / "snn.onnx"), "--set", "export.verify_inputs=2"]) == 0
    assert main(["finn_build", str(out / "snn.onnx"), "--build", str(REPO / "build" / "snn-radioml"), "--out",
                 str(out / "build"), "--checkpoint", str(ckpt), "--set", "finn.verify_inputs=1",
                 "--set", "finn.verify_synthetic=1", "--set", "finn.event_driven_rtl=false"]) == 0
    return {"pth": ckpt, "onnx": out / "snn.onnx", "finn": out / "build" / "finn_output"}


def test_an_snn_checkpoint_qonnx_and_finn_build_give_the_same_classes(snn, tmp_path):
    """The SNN's QONNX graph takes spike counts: classify encodes the frames on the host with the
    settings the export wrote into the file, and reproduces the checkpoint's logits. The
    finn_build's HW model (the default, event-driven build) takes the int8 I/Q codes the
    accelerator takes: the host only quantises, and its scores are the readout's final
    membranes, exactly those of the QONNX graph on the quantised frames."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from toolchain.data.captures import unit_power
    from toolchain.snn.encoders import encode

    frames = synthetic_frames(256, range(0, 24, 2)).astype(np.complex64)
    meta = write_sigmf(tmp_path, "rec", frames.ravel())
    docs = {kind: classify(tmp_path, kind, meta, "--model", path) for kind, path in snn.items()}
    pth = docs["pth"]
    assert len(pth["frames"]) == 12 and len(set(classes_of(pth))) >= 3, classes_of(pth)
    assert classes_of(docs["onnx"]) == classes_of(pth)
    for a, b in zip(pth["frames"], docs["onnx"]["frames"]):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)
    assert docs["finn"]["model"]["engine"].startswith("qonnx.core.onnx_exec.execute_onnx (SNN event-driven HW model")

    graph = ModelWrapper(str(snn["onnx"]))
    x = unit_power(np.stack([frames.real, frames.imag], 1))  # what classify feeds every model
    scale = SNN.input_range / (1 << (SNN.input_bits - 1))
    codes = np.clip(np.round(x / scale), -(1 << (SNN.input_bits - 1)), (1 << (SNN.input_bits - 1)) - 1)
    counts = encode(SNN, torch.from_numpy((codes * scale).astype(np.float32))).numpy()
    for frame, row in zip(counts, docs["finn"]["frames"]):
        membranes = execute_onnx(graph, {graph.graph.input[0].name: frame})[graph.graph.output[0].name][-1]
        order = np.argsort(-membranes, kind="stable")[:3]
        assert row["probability"] is None
        assert [(t["class"], t["score"]) for t in row["top3"]] == [(CLASSES[k], float(membranes[k])) for k in order]


def test_a_build_without_encoder_settings_is_refused_in_one_line(snn, tmp_path, capsys):
    from checks import assert_one_line_error

    folder = tmp_path / "finn_output"
    (folder / "intermediate_models").mkdir(parents=True)
    report = json.loads((snn["finn"] / "finn_report.json").read_text())
    hw = report["steps"]["ran"][-1] + ".onnx"
    (folder / "intermediate_models" / hw).write_bytes((snn["finn"] / "intermediate_models" / hw).read_bytes())
    del report["verification"]["model_config"]
    (folder / "finn_report.json").write_text(json.dumps(report))
    meta = write_sigmf(tmp_path, "rec", synthetic_frames(256, range(1)).ravel().astype(np.complex64))
    rc = main(["classify", str(meta), "--model", str(folder), "--out", str(tmp_path / "run")])
    assert_one_line_error(rc, capsys.readouterr().err, "finn_report.json", "no encoder settings")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------- bad input
def bad_inputs(tmp: Path):
    x = synthetic_frames(128, range(2)).ravel().astype(np.complex64)
    write_sigmf(tmp, "nodata", x).with_suffix(".sigmf-data").unlink()
    write_sigmf(tmp, "short", x[:100])
    meta = write_sigmf(tmp, "oddtype", x)
    doc = json.loads(meta.read_text())
    doc["global"]["core:datatype"] = "cq16_le"
    meta.write_text(json.dumps(doc))
    meta = write_sigmf(tmp, "realtype", x)
    doc["global"]["core:datatype"] = "rf32_le"
    meta.write_text(json.dumps(doc))
    write_sigmf(tmp, "mono", x)
    (tmp / "notes.txt").write_text("not a model\n")
    (tmp / "empty_dir").mkdir()


@pytest.mark.parametrize("argv, needles", [
    (["nodata.sigmf-meta"], ["nodata.sigmf-meta", "nodata.sigmf-data does not exist"]),
    (["short.sigmf-meta"], ["short.sigmf-data", "100 samples", "shorter than one frame", "at least 128"]),
    (["oddtype.sigmf-meta"], ["oddtype.sigmf-meta", "'cq16_le'", "expected one of cf32_le"]),
    (["realtype.sigmf-meta"], ["realtype.sigmf-meta", "'rf32_le'", "not a complex"]),
    (["mono.sigmf-meta", "--channel", "1"], ["mono.sigmf-meta", "channel 1 does not exist", "--channel 0..0"]),
    (["mono.sigmf-meta", "--model", "notes.txt"], ["notes.txt", "expected a checkpoint (.pth), a QONNX"]),
    (["mono.sigmf-meta", "--model", "empty_dir"], ["empty_dir", "without finn_report.json"]),
    (["mono.sigmf-meta", "--model", "nope.pth"], ["nope.pth", "no such model"]),
    (["mono.sigmf-meta", "--resample", "3:2"], ["--resample '3:2'", "P/Q"]),
    (["mono.sigmf-data.bin"], ["mono.sigmf-data.bin", "no such recording"]),
    (["notes.txt"], ["notes.txt", "not a SigMF recording", "--format cf32|ci16|ci8"]),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, needles, small_cnn, tmp_path, capsys, monkeypatch):
    bad_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    model = [] if "--model" in argv else ["--model", str(small_cnn)]
    assert main(["classify", *argv, *model, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "run").exists()
