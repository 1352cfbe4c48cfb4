"""Run directories: fixed artifact names and a manifest of how every stage ran.

`manifest.json` holds one entry per stage: the resolved config, package versions, the git
commit of the toolchain, start/end time and the hashes of its input files. A stage that fails
records nothing and a run directory it created is removed, so no half-run is mistaken for a
result; only `toolchain run` records a failed stage (`record_failure`: status "failed" and its
one-line error), for the run's page.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from .atomic import write_json
from .config import Config, to_dict
from .errors import ToolchainError

MANIFEST = "manifest.json"

# Fixed names, as in the ITU-ML5G-PS-007 submissions, so every stage finds its inputs.
ARTIFACTS = {
    "dataset": "synthetic.h5",
    "data_summary": "data_summary.json",
    "data_overview": "data_overview.png",
    "initial_model": "initial_model.pth",
    "final_model": "final_model.pth",
    "prune_log": "prune_log.jsonl",
    "prune_report": "prune_report.json",
    "prune_sparsity": "prune_sparsity.png",
    "prune_tradeoff": "prune_tradeoff.png",
    "accuracy": "accuracy.json",
    "accuracy_vs_snr": "accuracy_vs_snr.png",
    "confusion_matrix": "confusion_matrix.png",
    "model_export": "model_export.onnx",
    "model_cost": "model_cost.json",
    "model_cost_plot": "model_cost.png",
    "model_final": "model_final.onnx",
    "finn_output": "finn_output",
    "converted_model": "converted_model.pth",
    "convert_report": "convert_report.json",
    "convert_plot": "convert_time_steps.png",
    "energy_report": "energy_report.json",
    "energy_plot": "energy_report.png",
    "spike_raster": "spike_raster.png",
    "model_nir": "model.nir",
    "model_nir_norse": "model.norse.nir",
    "model_nir_snntorch": "model.snntorch.nir",
    "classes_json": "classes.json",
    "classes_csv": "classes.csv",
    "classes_timeline": "classes_timeline.png",
}

PACKAGES = ("torch", "brevitas", "qonnx", "onnx", "finn-plus", "numpy", "h5py", "nir", "toolchain")
FULL_HASH_LIMIT = 1 << 30  # bytes; larger files (the 20 GB dataset) get a sampled hash
SAMPLES, SAMPLE_BYTES = 64, 1 << 20


@dataclass
class RunDir:
    root: Path
    stage: str
    inputs: list[Path] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def artifact(self, name: str) -> Path:
        """Path of a fixed-name artifact, recorded as an output of this stage."""
        path = self.root / ARTIFACTS[name]
        self.outputs[name] = ARTIFACTS[name]
        return path


@contextmanager
def stage_run(root: str | Path, stage: str, cfg: Config, inputs: list[Path] = ()) -> Iterator[RunDir]:
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ToolchainError(f"{root}: run directory path exists and is not a directory")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    run = RunDir(root, stage, [Path(p) for p in inputs])
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    try:
        yield run
    except BaseException:
        if created:
            shutil.rmtree(root, ignore_errors=True)
        raise
    entry = {
        "status": "ok",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 3),
        "config": to_dict(cfg),
        "inputs": {str(p): fingerprint(p) for p in run.inputs},
        "outputs": run.outputs,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "command": sys.argv,
        **run.extra,
    }
    update_manifest(root, stage, entry)


def record_failure(root: Path, stage: str, cfg: Config, error: str, started: datetime, seconds: float) -> None:
    """The manifest entry of a stage that failed inside `toolchain run`: its one-line error, when
    and with what it ran, so that the run's page shows it. A stage run alone records nothing
    when it fails (its error is on the terminal); a later successful run replaces the entry."""
    update_manifest(root, stage, {
        "status": "failed",
        "error": error,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "config": to_dict(cfg),
        "outputs": {},
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "command": sys.argv,
    })


@contextmanager
def keep_checkpoint_on_failure(checkpoint: Path, unit: str) -> Iterator[None]:
    """For resumable stages: stage_run removes a run directory it created when the stage fails,
    which would throw away the checkpoint an interrupted run resumes from. So the directory is
    made here, and removed on failure only while it holds no `checkpoint` yet."""
    root = checkpoint.parent
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException as exc:
        if checkpoint.is_file():
            if isinstance(exc, KeyboardInterrupt):
                print(f"{checkpoint} holds the last finished {unit}; continue with --resume", file=sys.stderr)
        elif created:
            shutil.rmtree(root, ignore_errors=True)
        raise


def dataset_path(cfg: Config) -> Path:
    """The dataset a stage reads: `data.path`, else the synthetic file the `data` stage wrote
    into this run directory."""
    if cfg.data.path:
        return Path(cfg.data.path)
    generated = Path(cfg.run.out_dir) / ARTIFACTS["dataset"]
    if generated.is_file():
        return generated
    raise ToolchainError(f"no dataset: give a RadioML-format file (INPUT, --data or --set data.path=FILE), "
                         f"or run the 'data' stage first to generate {generated}")


def trained_model(cfg: Config) -> Path:
    """The checkpoint a later stage starts from: the pruned model if the run has one, else
    the initially trained one."""
    root = Path(cfg.run.out_dir)
    for name in ("final_model", "initial_model"):
        if (root / ARTIFACTS[name]).is_file():
            return root / ARTIFACTS[name]
    raise ToolchainError(f"{root}: no {ARTIFACTS['final_model']} or {ARTIFACTS['initial_model']}; "
                         "give a checkpoint as INPUT or run train_initial first")


def update_manifest(root: Path, stage: str, entry: dict[str, Any]) -> None:
    path = root / MANIFEST
    manifest: dict[str, Any] = {"stages": {}}
    if path.exists():
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ToolchainError(f"{path}: not valid JSON ({exc.msg}); move it away to start a new manifest") from None
    manifest.setdefault("stages", {})[stage] = entry
    write_json(path, manifest)


def fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file; above 1 GiB a hash of 64 evenly spaced 1 MiB samples plus the
    size, labelled as such, so a stage does not spend a minute hashing the 20 GB dataset."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as f:
        if size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
            return {"size": size, "sha256": h.hexdigest()}
        h.update(str(size).encode())
        for k in range(SAMPLES):
            f.seek((size - SAMPLE_BYTES) * k // (SAMPLES - 1))
            h.update(f.read(SAMPLE_BYTES))
    return {"size": size, f"sha256_sampled_{SAMPLES}x1MiB": h.hexdigest()}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    """Commit of the toolchain's own checkout (with '-dirty' if modified); None outside git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
