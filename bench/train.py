"""Training throughput of VGG10, and what quantization-aware training costs.

Times whole training steps (forward, cross-entropy, backward, Adam step) of the challenge's
VGG10 as the toolchain builds it (Brevitas, 8-bit weights and activations, 64 filters, frames of
1024 samples) and of the same network from plain torch.nn layers (Conv1d, BatchNorm1d, ReLU,
MaxPool1d, Linear; Hardtanh for the input clamp; no quantizers). Inputs are random tensors
already in memory, so the model alone is timed (the loader delivers ~200k frames/s on one core,
see `bench/loader.py`). Prints frames/s as median (min..max) over the timed steps of all repeats,
the two models alternating, and the ratio plain / quantized.

    python bench/train.py [--batch 1024] [--devices cpu cuda] [--warmup 2] [--steps 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from toolchain.config import ModelConfig
from toolchain.models import build_model


def plain_vgg10(cfg: ModelConfig) -> nn.Sequential:
    """VGG10's topology with float layers only."""
    layers: list[nn.Module] = [nn.Hardtanh(-cfg.input_range, cfg.input_range)]
    channels = 2
    for _ in range(cfg.conv_layers):
        layers += [nn.Conv1d(channels, cfg.filters, 3, padding=1, bias=False), nn.BatchNorm1d(cfg.filters),
                   nn.ReLU(), nn.MaxPool1d(2)]
        channels = cfg.filters
    flat = cfg.filters * (cfg.input_length >> cfg.conv_layers)
    layers += [nn.Flatten(),
               nn.Linear(flat, cfg.dense, bias=False), nn.BatchNorm1d(cfg.dense), nn.ReLU(),
               nn.Linear(cfg.dense, cfg.dense, bias=False), nn.BatchNorm1d(cfg.dense), nn.ReLU(),
               nn.Linear(cfg.dense, cfg.num_classes)]
    return nn.Sequential(*layers)


def quantized_vgg10(cfg: ModelConfig, device: torch.device, x: torch.Tensor) -> nn.Module:
    """The toolchain's VGG10, past Brevitas' start-up phase: for its first 300 training steps an
    activation quantizer takes its scale from batch statistics, which later steps do not compute.
    Reloading its own state_dict after one step ends that phase, so steady-state steps are timed."""
    model = build_model(cfg).to(device).train()
    with torch.no_grad():
        model(x[:2])
    model.load_state_dict(model.state_dict())
    return model


class Stepper:
    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        self.model, self.x, self.y = model.train(), x, y
        self.opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(self) -> float:
        """Seconds for one training step, device work included."""
        sync(self.x.device)
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        sync(self.x.device)
        return time.perf_counter() - t0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_device(device: torch.device, cfg: ModelConfig, args: argparse.Namespace) -> dict[str, list[float]]:
    torch.manual_seed(0)
    x = torch.randn(args.batch, 2, cfg.input_length, device=device)
    y = torch.randint(0, cfg.num_classes, (args.batch,), device=device)
    steppers = {"quantized (Brevitas)": Stepper(quantized_vgg10(cfg, device, x), x, y),
                "plain torch.nn": Stepper(plain_vgg10(cfg).to(device), x, y)}
    times: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(args.repeat):  # alternate, so drifting machine load hits both alike
        for name, stepper in steppers.items():
            for _ in range(args.warmup):
                stepper.step()
            times[name] += [stepper.step() for _ in range(args.steps)]
    return times


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads)"


def fmt(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}..{max(rates):,.0f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="cuda is skipped where torch sees no GPU")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before each timed run")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per run")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per model")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ModelConfig()  # the challenge size: 64 filters, 128 dense units, 8 bits, 1024 samples
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    print(f"VGG10: {cfg.filters} filters, {cfg.dense} dense, {cfg.weight_bits}-bit weights, {cfg.act_bits}-bit "
          f"activations, frames of {cfg.input_length}; batch {args.batch}; {args.warmup} warm-up + {args.steps} "
          f"timed steps x {args.repeat} alternating repeats")
    print("| device | model | frames/s, median (min..max) | ms/step, median |")
    print("|---|---|---|---|")
    for name in args.devices:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            print(f"(cuda skipped: torch {torch.__version__} sees no GPU)")
            continue
        times = bench_device(device, cfg, args)
        medians = {}
        for model, seconds in times.items():
            rates = [args.batch / s for s in seconds]
            medians[model] = statistics.median(rates)
            print(f"| {describe(device)} | {model} | {fmt(rates)} | {1000 * statistics.median(seconds):,.0f} |")
        plain, quant = medians["plain torch.nn"], medians["quantized (Brevitas)"]
        print(f"quantization-aware training on {device.type}: {plain / quant:.2f}x the time per step of plain "
              f"torch.nn ({quant:,.0f} vs {plain:,.0f} frames/s)")


if __name__ == "__main__":
    main()
