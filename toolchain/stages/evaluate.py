"""Stage `evaluate`: accuracy of a checkpoint (.pth) or a QONNX model (.onnx) on one split.

Reads the model and a RadioML-format file (`data.path`, else the run's `synthetic.h5`);
evaluates the split `eval.split` (all of it, or its first `eval.max_frames` frames in file
order). Writes `accuracy.json` (see docs/evaluate.md), `accuracy_vs_snr.png` and
`confusion_matrix.png`; for an SNN checkpoint also the spike rates of every layer (in
accuracy.json), `energy_report.json` + `.png` (docs/energy.md) and `spike_raster.png` of the
first evaluated frame. Everything that can be checked (model file, weights, shapes, data
file, split) is checked before the run directory is touched.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json
from ..config import Config, text_override
from ..data.classes import CLASSES
from ..data.dataset import RadioMLDataset
from ..errors import ToolchainError
from ..reports.accuracy import accuracy_report, format_summary
from ..rundir import RunDir, dataset_path, stage_run, trained_model

SUMMARY = "accuracy overall, per SNR and per class, confusion matrices -> accuracy.json"
FORMAT = "toolchain-accuracy/1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", help="model to evaluate: a .pth checkpoint (toolchain format or a "
                        "bare state_dict) or a QONNX .onnx; default: the run directory's final_model.pth, "
                        "else its initial_model.pth")
    parser.add_argument("--data", metavar="FILE", help="RadioML-format HDF5 file (config: data.path)")
    parser.add_argument("--model", metavar="NAME", help="model of a bare state_dict (config: model.name)")


def overrides(args: argparse.Namespace) -> list[str]:
    out = []
    if args.data:
        out.append(text_override("data.path", args.data))
    if args.model:
        out.append(text_override("model.name", args.model))
    return out


def model_input(cfg: Config, args: argparse.Namespace | None) -> Path:
    """The model named on the command line, else the run's final_model.pth, else its initial_model.pth."""
    if args is not None and args.input:
        return Path(args.input)
    return trained_model(cfg)


def select_frames(cfg: Config, path: Path) -> tuple[RadioMLDataset, int]:
    """The frames to evaluate and the size of the whole split they come from (`all`: every
    frame of the file, with the `data.classes` filter)."""
    d = cfg.data
    if cfg.eval.split == "all":
        ds = RadioMLDataset.every_frame(path, d.classes)
    else:
        splits = RadioMLDataset.splits(path, val_fraction=d.val_fraction, val_seed=d.val_seed,
                                       train_snrs=d.train_snrs, classes=d.classes, require_train=False)
        ds = splits[cfg.eval.split]
    if len(ds) == 0:
        raise ToolchainError(f"config key 'eval.split': the {cfg.eval.split!r} split of {path} has no frames "
                             f"(data.val_fraction={d.val_fraction}; eval.split=all evaluates every frame)")
    total = len(ds)
    if cfg.eval.max_frames is not None and cfg.eval.max_frames < total:
        # File order: rows are sorted, so this is a prefix of the file's blocks (see docs/evaluate.md).
        ds = RadioMLDataset(ds.index, ds.rows[: cfg.eval.max_frames], ds.split)
    return ds, total


def spike_meter(predictor):
    """A SpikeMeter on an SNN checkpoint's model, None for anything else (CNN, QONNX)."""
    if predictor.kind != "pth":
        return None
    from ..snn.rates import SpikeMeter, is_snn

    if not is_snn(predictor.model):
        return None
    return SpikeMeter(predictor.model)


def load_predictor(path: Path, cfg: Config, frame_length: int):
    if path.suffix.lower() == ".onnx":
        return QonnxPredictor.load(path, cfg.eval.onnx_batch_size, frame_length)
    return TorchPredictor.load(path, cfg, frame_length)


class TorchPredictor:
    """A PyTorch model in eval mode; logits for a batch."""

    kind = "pth"
    engine = "torch"

    def __init__(self, model, model_name: str, num_outputs: int, device: str, batch_size: int):
        self.model, self.model_name, self.num_outputs = model, model_name, num_outputs
        self.device, self.batch_size = device, batch_size

    @classmethod
    def load(cls, path: Path, cfg: Config, frame_length: int) -> "TorchPredictor":
        from ..checkpoint import load_model
        from ..train.distributed import choose_device, eval_batch_size

        model, mcfg, _ = load_model(path, cfg.model)
        if mcfg.input_length != frame_length:
            raise ToolchainError(f"{path}: model '{mcfg.name}' takes frames of {mcfg.input_length} samples "
                                 f"(model.input_length), the data file has {frame_length}")
        device = choose_device(cfg.eval.device, key="eval.device")
        return cls(model.to(device), mcfg.name, mcfg.num_classes, str(device), eval_batch_size(cfg.eval.batch_size, device))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y = self.model(torch.from_numpy(x).to(self.device))
        y = getattr(y, "value", y)  # a model may end in a QuantTensor
        return y.float().cpu().numpy()


class QonnxPredictor:
    """A QONNX graph run by qonnx's reference executor (`execute_onnx`: Quant nodes in numpy,
    standard nodes one onnxruntime session each). That executor costs ~50 ms per call
    whatever the batch, so the graph's batch dimension is rewritten to `batch_size` and whole
    batches run at once; the last batch is zero-padded (frames do not interact in inference).
    `load` compares a probe batch with single-frame execution, so a graph that the rewrite
    would break is refused."""

    kind = "onnx"
    engine = "qonnx.core.onnx_exec.execute_onnx"
    device = "cpu"
    model_name = None

    def __init__(self, model, batch_size: int, num_outputs: int):
        self.model, self.batch_size, self.num_outputs = model, batch_size, num_outputs
        self.input, self.output = model.graph.input[0].name, model.graph.output[0].name

    @classmethod
    def load(cls, path: Path, batch_size: int, frame_length: int) -> "QonnxPredictor":
        single = _prepare_qonnx(path)
        shape_in = single.get_tensor_shape(single.graph.input[0].name)
        shape_out = single.get_tensor_shape(single.graph.output[0].name)
        if any(n.domain == "toolchain.snn" for n in single.graph.node):
            raise ToolchainError(f"{path}: an SNN's QONNX model takes encoded spike counts, not I/Q frames (its "
                                 "encoder runs on the host); evaluate its checkpoint (.pth) instead: the export "
                                 "checked that both give the same readout at every time step")
        if list(shape_in[1:]) != [2, frame_length] or len(shape_out) != 2:
            raise ToolchainError(f"{path}: expected input (batch, 2, {frame_length}) and output (batch, classes) "
                                 f"for this data file, the graph has {shape_in} -> {shape_out}")
        one = cls(_with_batch(single, 1) if shape_in[0] != 1 else single, 1, shape_out[1])
        if batch_size == 1:
            return one
        batched = cls(_with_batch(single, batch_size), batch_size, shape_out[1])
        _probe(path, one, batched, frame_length)
        return batched

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from qonnx.core.onnx_exec import execute_onnx

        n = len(x)
        if n < self.batch_size:
            x = np.concatenate([x, np.zeros((self.batch_size - n, *x.shape[1:]), dtype=x.dtype)])
        return execute_onnx(self.model, {self.input: np.ascontiguousarray(x)})[self.output][:n]


def _prepare_qonnx(path: Path):
    """qonnx's cleanup (shape inference, constant folding, static inputs removed); one-line
    errors for a file that is missing, not ONNX, or not executable."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    if not path.is_file():
        raise ToolchainError(f"{path}: no such model file")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf and onnx raise several types for a bad file
        raise ToolchainError(f"{path}: not an ONNX model ({_first_line(exc)})") from None
    if not proto.graph.node or not proto.graph.output:
        raise ToolchainError(f"{path}: not an ONNX model (no graph nodes or outputs)")
    try:
        model = cleanup_model(ModelWrapper(proto))
    except Exception as exc:  # qonnx/onnx shape inference errors have no common type
        raise ToolchainError(f"{path}: qonnx cannot prepare the graph for execution ({_first_line(exc)})") from None
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise ToolchainError(f"{path}: expected one data input and one output, the graph has "
                             f"{len(model.graph.input)} inputs and {len(model.graph.output)} outputs")
    return model


def _with_batch(model, batch_size: int):
    """A copy with the batch dimension set on the graph input/output and in Reshape constants,
    intermediate shapes inferred again (qonnx's own ChangeBatchSize + InferShapes)."""
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    return model.transform(ChangeBatchSize(batch_size)).transform(InferShapes())


def _probe(path: Path, one: QonnxPredictor, batched: QonnxPredictor, frame_length: int) -> None:
    """Run a batch of noise with a tone in row 0 and compare rows 0 and -1 with single-frame runs:
    this fails here, before the run directory is touched, if qonnx cannot execute the graph,
    and catches a batch rewrite that mixes or cuts rows (the tone's logits differ grossly)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((batched.batch_size, 2, frame_length)) / np.sqrt(2)).astype(np.float32)
    phase = 2 * np.pi * 0.05 * np.arange(frame_length)
    x[0] = np.stack([np.cos(phase), np.sin(phase)])
    try:
        out = batched(x)
        ref = np.concatenate([one(x[:1]), one(x[-1:])])
    except Exception as exc:  # any failure inside the executor means this graph cannot be evaluated
        raise ToolchainError(f"{path}: qonnx execution failed ({_first_line(exc)})") from None
    diff = np.abs(out[[0, -1]] - ref).max(axis=1)
    # Not exact: onnxruntime sums in another order for another batch size, and now and then an
    # activation lands on the other side of a rounding step (about 1 % of frames, a few
    # output steps). A broken rewrite differs by a sizeable part of the logits' spread.
    if (diff > 0.25 * np.ptp(ref, axis=1).max() + 1e-5).any():
        raise ToolchainError(f"{path}: batched execution differs from single-frame execution (max |diff| "
                             f"{diff.max():.3g}); set eval.onnx_batch_size=1 to evaluate frame by frame (slow)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def predict(predictor, ds: RadioMLDataset, num_workers: int) -> tuple[dict[str, np.ndarray], float]:
    """Predicted class of every frame, in dataset order, and the seconds spent."""
    from tqdm import tqdm

    labels, preds, snrs = [], [], []
    start = time.perf_counter()
    with tqdm(total=len(ds), unit="frame", desc=f"evaluate ({predictor.kind})", disable=None) as bar:
        for x, y, s in ds.loader(predictor.batch_size, shuffle=False, num_workers=num_workers):
            preds.append(predictor(x.numpy()).argmax(axis=1))
            labels.append(y.numpy())
            snrs.append(s.numpy())
            bar.update(len(y))
    seconds = time.perf_counter() - start
    return {"labels": np.concatenate(labels), "predictions": np.concatenate(preds),
            "snrs": np.concatenate(snrs)}, seconds


def check_outputs(predictor, ds: RadioMLDataset, path: Path) -> None:
    top = int(ds.labels.max())
    if predictor.num_outputs <= top:
        raise ToolchainError(f"{path}: the model has {predictor.num_outputs} outputs, but the frames include "
                             f"class {CLASSES[top]} (index {top}); labels use the 24-class RadioML order")


def build_document(cfg: Config, model_path: Path, data_path: Path, predictor, ds: RadioMLDataset,
                   split_size: int, result: dict, seconds: float) -> dict:
    report = accuracy_report(result["labels"], result["predictions"], result["snrs"], cfg.eval.confusion_snrs)
    n = len(ds)
    return {
        "format": FORMAT,
        "model": {"path": str(model_path), "kind": predictor.kind, "name": predictor.model_name},
        "data": {"path": str(data_path), "split": cfg.eval.split, "frames_in_split": split_size,
                 "frames_evaluated": n, "max_frames": cfg.eval.max_frames,
                 "frame_length": ds.index.frame_length, "classes": [c["class"] for c in report["per_class"]],
                 "snrs": [p["snr"] for p in report["per_snr"]]},
        "inference": {"engine": predictor.engine, "device": predictor.device, "batch_size": predictor.batch_size,
                      "seconds": round(seconds, 3), "frames_per_second": round(n / seconds, 1) if seconds else None},
        **report,
    }


def write_outputs(run: RunDir, doc: dict, title: str, snn: dict | None = None) -> None:
    """All files appear together or not at all: each is written to a temporary name and the
    renames happen only after every one of them is complete. `snn`: see `snn_outputs`."""
    from ..reports.plots import plot_accuracy_vs_snr, plot_confusion

    names = ["accuracy_vs_snr", "confusion_matrix", "accuracy"]
    if snn is not None:
        names += ["energy_report", "energy_plot", "spike_raster"]
    with ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(run.artifact(name))) for name in names}
        plot_accuracy_vs_snr(doc, tmp["accuracy_vs_snr"], title)
        plot_confusion(doc, tmp["confusion_matrix"], title)
        if snn is not None:
            from ..reports.energy import plot_energy, plot_spike_raster

            write_json(tmp["energy_report"], snn["energy"])
            plot_energy(snn["energy"], tmp["energy_plot"])
            plot_spike_raster(*snn["raster"], tmp["spike_raster"], snn["raster_title"])
        write_json(tmp["accuracy"], doc)


def snn_outputs(cfg: Config, predictor, meter, ds: RadioMLDataset) -> dict:
    """The energy report from the rates measured over every evaluated frame, and the recorded
    layers of the first frame for the raster."""
    import torch

    from ..reports.energy import energy_report, layer_geometry
    from ..snn.rates import record_frame

    model = predictor.model
    measured = meter.rates()
    geometry = layer_geometry(model)
    report = energy_report(geometry, measured["input_rate"], list(measured["spike_rates"].values()),
                           measured["frames"], cfg.energy.precision)
    x, label, snr = ds.read(np.array([0]))
    spikes_in, trace = record_frame(model, torch.from_numpy(x).to(predictor.device))
    return {"energy": report, "measured": measured, "raster": (spikes_in, trace, model.layers[-1].readout),
            "raster_title": f"frame 0 of the evaluated split: {CLASSES[int(label[0])]}, {snr[0]:g} dB"}


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    model_path = model_input(cfg, args)
    data_path = dataset_path(cfg)
    ds, split_size = select_frames(cfg, data_path)
    predictor = load_predictor(model_path, cfg, ds.index.frame_length)
    check_outputs(predictor, ds, model_path)
    meter = spike_meter(predictor)
    with stage_run(cfg.run.out_dir, "evaluate", cfg, [model_path, data_path]) as run:
        with meter if meter is not None else ExitStack():
            result, seconds = predict(predictor, ds, cfg.data.num_workers)
        doc = build_document(cfg, model_path, data_path, predictor, ds, split_size, result, seconds)
        snn = None
        if meter is not None:
            from ..snn.rates import spiking_rates

            snn = snn_outputs(cfg, predictor, meter, ds)
            doc["input_rate"] = snn["measured"]["input_rate"]
            doc["spike_rates"] = spiking_rates(snn["measured"])
        for snr in doc["confusion"]["missing_snrs"]:
            print(f"warning: eval.confusion_snrs: no evaluated frame at {snr} dB; that matrix is skipped",
                  file=sys.stderr)
        write_outputs(run, doc, f"{model_path.name} on {data_path.name} ({cfg.eval.split})", snn)
        print(format_summary(doc))
        if snn is not None:
            from ..reports.energy import format_summary as energy_summary

            rates = ", ".join(f"{k} {v:.4f}" for k, v in doc["spike_rates"].items())
            print(f"spike rates (per neuron and step): input {doc['input_rate']:.4f} (counts), {rates}")
            print(energy_summary(snn["energy"]))
        print(f"{len(ds)} frames in {seconds:.1f} s ({doc['inference']['frames_per_second']} frames/s, "
              f"{predictor.engine}); wrote {run.root}/: {', '.join(run.outputs.values())}")
    return run
