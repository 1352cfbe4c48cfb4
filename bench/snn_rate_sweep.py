"""Accuracy against frames/s of SNNs trained with different spike-rate penalties
(`model.snn_rate_penalty`), from each network's `toolchain evaluate` accuracy.json and
`bench/snn_hw.py --json` output on the same data: a Markdown table and a PNG.

    python bench/snn_rate_sweep.py --out sweep.png LAMBDA:ACCURACY.json:SNN_HW.json ...

Each row is one trained network: its accuracy (overall, SNR >= 6 dB, +30 dB), its hidden layers'
spike rates, and the accelerator's cycles per frame (median, p99), frames/s at the median and
streamed back to back (at 250 MHz), beside the dense FINN build's 40,960 cycles per frame; LUT
and BRAM36 with the FIFOs the cycle model sized.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from toolchain.plotting import pyplot  # noqa: E402

DENSE_CYCLES = 40960  # the same network's dense FINN build (bench/snn_hw.py)


def row(lam: str, acc_path: str, hw_path: str) -> dict:
    with open(acc_path) as f:
        acc = json.load(f)
    with open(hw_path) as f:
        hw = json.load(f)
    if not hw["check"]["ok"]:
        raise SystemExit(f"{hw_path}: the C simulation was not bit exact with the model; no figures from it")
    high = [r for r in acc["per_snr"] if r["snr"] >= 6]
    top = max(acc["per_snr"], key=lambda r: r["snr"])
    return {"lambda": lam, "overall": acc["overall"]["accuracy"],
            "snr6": sum(r["correct"] for r in high) / sum(r["frames"] for r in high),
            "top": top["accuracy"], "top_snr": top["snr"], "rates": list(acc["spike_rates"].values()),
            "median": hw["cycles"]["frame"]["median"], "p99": hw["cycles"]["frame"]["p99"],
            "fps": hw["fps"]["median"], "lut": hw["resources"]["total"]["lut"],
            "bram36": hw["resources"]["total"]["bram36"],
            "streamed": hw["fifo"]["cycles_with_depths"] / hw["frames"], "depths": hw["fifo"]["depths"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="LAMBDA:ACCURACY.json:SNN_HW.json, one per trained network")
    ap.add_argument("--out", required=True, help="PNG: accuracy against frames/s")
    args = ap.parse_args()
    rows = []
    for spec in args.runs:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SystemExit(f"run '{spec}': expected LAMBDA:ACCURACY.json:SNN_HW.json")
        rows.append(row(*parts))
    print("| lambda | accuracy all SNRs | SNR >= 6 dB | +30 dB | spike rates (hidden layers) "
          "| cycles/frame median | p99 | frames/s median | vs dense | streamed frames/s | LUT | BRAM36 (FIFO depths) |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        rates = " / ".join(f"{x:.3f}" for x in r["rates"])
        print(f"| {r['lambda']} | {100 * r['overall']:.2f} % | {100 * r['snr6']:.2f} % | {100 * r['top']:.2f} % "
              f"| {rates} | {r['median']:,.0f} | {r['p99']:,.0f} | {r['fps']:,.0f} "
              f"| {DENSE_CYCLES / r['median']:.1f}x | {250e6 / r['streamed']:,.0f} | {r['lut']:,} "
              f"| {r['bram36']} ({' / '.join(f'{d:,}' for d in r['depths'])}) |")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("overall", "all SNRs"), ("snr6", "SNR >= 6 dB")):
        ax.plot([r["fps"] / 1e3 for r in rows], [100 * r[key] for r in rows], "o-", label=label)
        for r in rows:
            ax.annotate(f"λ={r['lambda']}", (r["fps"] / 1e3, 100 * r[key]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    ax.axvline(10 * 250e6 / DENSE_CYCLES / 1e3, color="grey", ls="--", label="10x the dense build")
    ax.set_xlabel("frames/s at the median, k (event-driven accelerator, 250 MHz)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title("SNN: spike-rate penalty, accuracy against throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
