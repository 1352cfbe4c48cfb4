"""Peak training memory per frame of the SNN versus truncated BPTT (`model.snn_bptt`).

One training step (forward, backward, Adam step) of the seed-sized SNN (3 conv LIF layers of 32
filters 7x7, T = 64 by default) on random frames, each setting in a fresh process so that one
peak cannot hide another. The figure is the process's maximum resident set size during the step
minus the one before it (model built, batch in memory), over the batch size. Prints a Markdown
table.

    python bench/bptt_memory.py [--bptt 4 16 0] [--batch 8] [--group 16] [--length 1024]

(--bptt 0 = full BPTT.) CPU only: on CUDA the same script would need torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time


def one(bptt: int, batch: int, group: int, length: int, learning: str) -> dict:
    import torch
    import torch.nn.functional as F

    from toolchain.config import ModelConfig
    from toolchain.models import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(name="snn", input_length=length, snn_filters=[32, 32, 32], snn_kernel=7, snn_group=group,
                      snn_bptt=bptt or None, snn_learning=learning)
    model = build_model(cfg).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 2, length), torch.arange(batch) % 24
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    loss = model.training_loss(model(x), y) if learning == "local" else F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"bptt": bptt, "steps": length // group, "per_frame_mib": (peak - before) / 1024 / batch,
            "peak_mib": peak / 1024, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bptt", type=int, nargs="+", default=[4, 16, 0], help="truncation lengths; 0 = full BPTT")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--group", type=int, default=16, help="samples per step (T = length / group)")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--local", action="store_true", help="also measure snn_learning=local")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--learning", default="bptt", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one is not None:
        print(json.dumps(one(a.one, a.batch, a.group, a.length, a.learning)))
        return
    runs = [(n, "bptt") for n in a.bptt] + ([(0, "local")] if a.local else [])
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}; "
          f"batch {a.batch}, T = {a.length // a.group}")
    print("| setting | peak RSS per frame (MiB) | process peak (MiB) | step (s) |\n|---|---|---|---|")
    for n, learning in runs:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--learning", learning, "--batch", str(a.batch),
                              "--group", str(a.group), "--length", str(a.length)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        name = "local learning" if learning == "local" else (f"snn_bptt={n}" if n else "full BPTT")
        print(f"| {name} | {r['per_frame_mib']:.1f} | {r['peak_mib']:.0f} | {r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
