"""train_initial: determinism, exact resume, refusing to overwrite, learning, DDP on 2 Gloo
processes, bad input, the log. Small VGG10s on small synthetic files; about 40 s on 2 cores."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from checks import assert_one_line_error, assert_same_tree, interrupt_once_written, kill_once
import torch

from toolchain.checkpoint import load_checkpoint, load_model
from toolchain.cli import main
from toolchain.config import SynthConfig
from toolchain.data.dataset import RadioMLDataset
from toolchain.data.synth import generate
from toolchain.data.sampling import MIN_BATCH, ContiguousBatchSampler, plan_batches

LENGTH = 128
# One thread: a second thread only loses time on 2 busy cores, and it keeps float sums in one order.
SMALL = [f"model.input_length={LENGTH}", "model.filters=16", "model.dense=32", "data.batch_size=64",
         "train.threads=1"]
TIMING = {"seconds", "train_seconds", "frames_per_s"}


def sets(*items):
    return [a for item in (*SMALL, *items) for a in ("--set", item)]


def train(data, out, *items, resume=False):
    return main(["train_initial", str(data), "--out", str(out), *sets(*items), *(["--resume"] if resume else [])])


def records(run):
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def assert_same_weights(a, b):
    sa, sb = load_checkpoint(a)["state_dict"], load_checkpoint(b)["state_dict"]
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"tensors differ: {different[:5]}"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """24 classes x SNRs 20, 30 dB x 64 frames of 128 samples: learnable, and an odd number of
    64-frame training batches (38.25), which round-robin dealing would give 2 ranks unequally."""
    path = tmp_path_factory.mktemp("data") / "synth.h5"
    return generate(path, SynthConfig(frames_per_pair=64, snrs=[20, 30], length=LENGTH), progress=False)


@pytest.fixture(scope="module")
def train_frames(data):
    return len(RadioMLDataset.splits(data, val_fraction=0.1)["train"])


def test_same_seed_same_weights_other_seed_other_weights(data, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert train(data, tmp_path / name, "train.epochs=2", "train.max_batches=6", f"train.seed={seed}") == 0
    assert_same_weights(tmp_path / "a/initial_model.pth", tmp_path / "b/initial_model.pth")
    with pytest.raises(AssertionError, match="tensors differ"):
        assert_same_weights(tmp_path / "a/initial_model.pth", tmp_path / "c/initial_model.pth")


def test_resume_ends_with_the_weights_of_an_uninterrupted_run(data, tmp_path, capsys):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train(data, whole, "train.epochs=3", "train.max_batches=8") == 0
    assert train(data, split, "train.epochs=2", "train.max_batches=8") == 0
    assert load_checkpoint(split / "checkpoint_last.pth")["epoch"] == 2
    assert train(data, split, "train.epochs=3", "train.max_batches=8", resume=True) == 0
    assert "resuming" in capsys.readouterr().out
    assert_same_weights(whole / "initial_model.pth", split / "initial_model.pth")
    a, b = load_checkpoint(whole / "initial_model.pth"), load_checkpoint(split / "initial_model.pth")
    for key in ("exp_avg", "exp_avg_sq"):
        assert all(torch.equal(a["optimizer"]["state"][i][key], b["optimizer"]["state"][i][key])
                   for i in a["optimizer"]["state"])
    strip = lambda rs: [{k: v for k, v in r.items() if k not in TIMING} for r in rs]  # noqa: E731
    assert strip(records(whole)) == strip(records(split)) and len(records(split)) == 3
    manifest = json.loads((split / "manifest.json").read_text())["stages"]["train_initial"]
    assert manifest["training"]["resumed_after_epoch"] == 2 and manifest["training"]["epochs"] == 3


STATS_STEPS = 300  # Brevitas' default collect_stats_steps: activation scales start from these batches' statistics


def test_killed_inside_the_statistics_phase_resumes_exactly(data, tmp_path):
    """kill -9 after a few epochs of 14 steps, so the checkpoint falls inside Brevitas' statistics
    phase, then --resume past it: weights, Adam state (every activation scale's step count
    included), scheduler and Brevitas statistics equal an uninterrupted run's."""
    items = ("model.filters=8", "model.dense=16", "train.max_batches=14", "train.epochs=22")  # 308 steps
    whole, split = tmp_path / "whole", tmp_path / "split"
    argv = ["train_initial", data, "--out", split, *sets(*items)]
    kill_once(argv, split / "checkpoint_last.pth", lambda p: p["epoch"] >= 3)
    done = load_checkpoint(split / "checkpoint_last.pth")["epoch"]
    assert 3 <= done and done * 14 < STATS_STEPS, done
    assert train(data, split, *items, resume=True) == 0
    assert train(data, whole, *items) == 0
    a, b = load_checkpoint(whole / "initial_model.pth"), load_checkpoint(split / "initial_model.pth")
    for key in ("state_dict", "optimizer", "scheduler", "quant_stats"):
        assert_same_tree(a[key], b[key], key)
    scales = [n for n in a["state_dict"] if "act_quant" in n and n.endswith("scaling_impl.value")]
    steps = {int(s["step"]) for s in a["optimizer"]["state"].values()}
    assert scales and steps == {22 * 14}  # every parameter, the scales too, took every step
    assert all(m["counter"] > STATS_STEPS for m in a["quant_stats"].values())  # the run went past the phase


def test_interrupted_run_keeps_its_checkpoint_and_resumes(data, tmp_path):
    run = tmp_path / "run"
    items = ("train.epochs=200", "train.max_batches=2")
    rc, err = interrupt_once_written(["train_initial", data, "--out", run, *sets(*items)], run / "checkpoint_last.pth")
    assert rc == 130, err
    assert "continue with --resume" in err and not (run / "initial_model.pth").exists()
    done = load_checkpoint(run / "checkpoint_last.pth")["epoch"]
    assert 1 <= done < 200  # the log may lag one epoch: a resume rewrites it from the checkpoint
    assert train(data, run, "train.max_batches=2", f"train.epochs={done + 1}", resume=True) == 0
    assert load_checkpoint(run / "initial_model.pth")["epoch"] == done + 1 and len(records(run)) == done + 1


def test_refuses_to_overwrite_and_checks_resume(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(data, run, "train.epochs=1", "train.max_batches=2") == 0
    before = (run / "initial_model.pth").read_bytes()
    capsys.readouterr()
    assert_one_line_error(train(data, run, "train.epochs=1", "train.max_batches=2"), capsys.readouterr().err,
                          "initial_model.pth exists", "--resume", "--out")
    assert_one_line_error(train(data, run, "train.epochs=2", "train.max_batches=2", "train.lr=0.5", resume=True),
                          capsys.readouterr().err, "train.lr", "0.5")
    assert (run / "initial_model.pth").read_bytes() == before
    assert_one_line_error(train(data, tmp_path / "new", "train.epochs=1", resume=True), capsys.readouterr().err,
                          "checkpoint_last.pth", "no checkpoint to resume")
    assert not (tmp_path / "new").exists()


def test_learns_above_chance(data, tmp_path):
    run = tmp_path / "run"
    assert train(data, run, "train.epochs=5") == 0
    log = records(run)
    chance = 1 / 24
    assert log[-1]["val_acc"] > 2.4 * chance, log[-1]
    assert log[-1]["val_loss"] < math.log(24) - 0.3 and log[-1]["train_loss"] < log[0]["train_loss"]
    model, cfg, payload = load_model(run / "initial_model.pth")  # weights_only=True inside
    assert cfg.filters == 16 and payload["epoch"] == 5 and payload["best_val_acc"] >= log[-1]["val_acc"]


def test_log_and_checkpoint_contents(data, tmp_path, train_frames):
    run = tmp_path / "run"
    assert train(data, run, "train.epochs=3", "train.t0=2") == 0
    log = records(run)
    assert [r["epoch"] for r in log] == [1, 2, 3]
    for r in log:
        assert set(r) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                          "train_seconds", "frames", "frames_per_s", "val_frames", "world_size", "device"}
        assert r["frames"] == train_frames and r["val_frames"] > 0 and r["world_size"] == 1 and r["device"] == "cpu"
        assert 0 <= r["train_acc"] <= 1 and math.isfinite(r["train_loss"]) and r["frames_per_s"] > 0
        assert r["seconds"] >= r["train_seconds"] > 0
    # Cosine with warm restarts every t0=2 epochs: 0.01, 0.005, then back to 0.01.
    assert [r["lr"] for r in log] == pytest.approx([0.01, 0.005, 0.01])
    payload = load_checkpoint(run / "initial_model.pth")
    assert {"model_config", "state_dict", "optimizer", "scheduler", "epoch", "best_val_acc", "best_epoch",
            "rng", "quant_stats", "config", "history"} <= set(payload)
    assert payload["config"]["train"]["t0"] == 2 and payload["history"] == log
    assert isinstance(payload["rng"]["torch"], torch.Tensor)
    manifest = json.loads((run / "manifest.json").read_text())["stages"]["train_initial"]
    assert manifest["outputs"] == {"initial_model": "initial_model.pth", "checkpoint_last": "checkpoint_last.pth",
                                   "train_log": "train_log.jsonl"}
    assert str(data) in manifest["inputs"] and manifest["training"]["last"] == log[-1]


def test_ddp_two_gloo_processes(data, tmp_path, train_frames):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "toolchain.train_initial", str(data), "--out", str(run), *sets("train.epochs=2")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    log = records(run)
    assert len(log) == 2 and all(r["world_size"] == 2 for r in log)
    # Every frame once per epoch, although 2448 frames make 38 full batches and a short one.
    assert all(r["frames"] == train_frames for r in log), (log, train_frames)
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in log)
    assert log[-1]["val_loss"] < math.log(24) + 0.5
    model, _, payload = load_model(run / "initial_model.pth")
    assert payload["world_size"] == 2 and payload["epoch"] == 2
    assert done.stdout.count("wrote ") == 1  # rank 0 alone writes and reports


def test_pipeline_generates_data_then_trains(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--out", str(out), "--set", "run.stages=[data, train_initial]", "--set", "synth.frames_per_pair=4",
            "--set", "synth.snrs=[30]", "--set", f"synth.length={LENGTH}", *sets("train.epochs=1")]
    assert main(argv) == 0
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert set(stages) == {"data", "train_initial"} and (out / "initial_model.pth").is_file()
    assert str(out / "synthetic.h5") in stages["train_initial"]["inputs"]


def test_missing_data_file_writes_nothing(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "toolchain", "train_initial", str(tmp_path / "nope.h5"),
                           "--out", str(out)], capture_output=True, text=True)
    assert_one_line_error(done.returncode, done.stderr, "nope.h5")
    assert not out.exists()


@pytest.mark.parametrize("items, needles", [
    (["model.input_length=256"], ["frames are 128 samples long", "model.input_length"]),
    (["data.batch_size=1"], ["data.batch_size"]),
    (["model.name=resnet"], ["model.name", "resnet"]),
])
def test_bad_settings_write_nothing(data, tmp_path, capsys, items, needles):
    out = tmp_path / "run"
    assert_one_line_error(train(data, out, *items), capsys.readouterr().err, *needles)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where torch sees no GPU")
def test_cuda_requested_without_gpu(data, tmp_path, capsys):
    assert_one_line_error(train(data, tmp_path / "run", "train.device=cuda"), capsys.readouterr().err,
                          "train.device", "cuda")
    assert not (tmp_path / "run").exists()


@pytest.mark.gpu
def test_trains_on_cuda(data, tmp_path):
    run = tmp_path / "run"
    assert train(data, run, "train.epochs=1", "train.device=cuda") == 0
    assert records(run)[0]["device"] == "cuda"


@pytest.mark.parametrize("n, batch, world", [(2448, 64, 2), (2448, 64, 3), (1024, 64, 4), (1025, 64, 2),
                                             (1029, 64, 4), (130, 64, 2), (9, 64, 4), (65, 64, 1), (7, 4, 1)])
def test_every_rank_gets_as_many_batches_and_every_frame_once(n, batch, world):
    samplers = [ContiguousBatchSampler(n, batch, True, seed=3, run_length=4, rank=r, world_size=world) for r in range(world)]
    for epoch in (0, 1):
        for s in samplers:
            s.set_epoch(epoch)
        dealt = [list(s) for s in samplers]
        assert len({len(d) for d in dealt}) == 1 and all(len(d) == len(s) for d, s in zip(dealt, samplers))
        frames = np.concatenate([np.concatenate(d) for d in dealt])
        assert np.array_equal(np.sort(frames), np.arange(n))
        assert min(len(b) for d in dealt for b in d) >= MIN_BATCH


def test_plan_batches_refuses_too_few_frames():
    from toolchain.errors import ToolchainError

    with pytest.raises(ToolchainError, match="too few"):
        plan_batches([np.arange(3)], batch_size=64, world_size=2)


def test_restore_model_keeps_the_tensors_an_optimizer_holds():
    """load_state_dict makes Brevitas rebuild its quantizers (new scale Parameters); restoring
    must write into the existing tensors, or an optimizer made before would train orphans."""
    from toolchain.config import ModelConfig
    from toolchain.models import build_model
    from toolchain.errors import ToolchainError
    from toolchain.train.state import restore_model, stats_state

    cfg = ModelConfig(input_length=LENGTH, filters=8, dense=16)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    torch.manual_seed(1)
    other = build_model(cfg).train()
    other(torch.randn(4, 2, LENGTH))  # one statistics step: its scales and counters move
    held = [id(p) for p in model.parameters()]
    restore_model(model, other.state_dict(), stats_state(other))
    assert [id(p) for p in model.parameters()] == held
    assert_same_tree(stats_state(model), stats_state(other))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    model.load_state_dict(other.state_dict())
    assert [id(p) for p in model.parameters()] != held  # what restore_model avoids
    with pytest.raises(ToolchainError, match="lacks"):
        restore_model(model, {k: v for k, v in other.state_dict().items() if k != "1.weight"}, {})
