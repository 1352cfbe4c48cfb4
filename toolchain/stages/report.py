"""Stage `report`: a run directory -> `report.html`, one self-contained page of the whole run.

`toolchain run` runs it last, whatever `run.stages` lists (and after a stage that failed, so the
page shows the failure); `toolchain report RUN_DIR` runs it alone on any run directory. The page
is built from `manifest.json` and the artifacts it lists (`toolchain.reports.page`); this module
only reads and checks those files and writes the page. Every artifact the manifest says a stage
wrote is checked before the page is written: a missing file, a JSON file that does not parse or
a PNG that does not decode is a one-line error naming the file, and no page is written.

The stage adds no entry to `manifest.json`: the page is a view of the manifest, and making it
again changes nothing there (docs/report.md).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..config import Config, text_override
from ..errors import ToolchainError
from ..rundir import MANIFEST, RunDir

SUMMARY = "one self-contained HTML page of a run directory: every stage's results, config and timings -> report.html"
PAGE = "report.html"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                        help="run directory to report on (default: --out, else run.out_dir); report.html goes there")


def overrides(args: argparse.Namespace) -> list[str]:
    return [text_override("run.out_dir", args.run_dir)] if args.run_dir else []


def run(cfg: Config, args: argparse.Namespace | None = None) -> RunDir:
    from ..reports.page import render

    if args is not None and args.run_dir and getattr(args, "out", None) and Path(args.run_dir) != Path(args.out):
        raise ToolchainError(f"two run directories: RUN_DIR {args.run_dir} and --out {args.out}; give one")
    root = Path(cfg.run.out_dir)
    manifest = read_manifest(root)
    artifacts = {name: read_outputs(root, entry) for name, entry in manifest["stages"].items()
                 if entry.get("status", "ok") == "ok"}
    html = render(root, manifest, artifacts)
    target = root / PAGE
    with atomic_path(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    print(f"wrote {target} ({len(manifest['stages'])} stage(s), {len(html.encode()) / 1e6:.1f} MB)")
    return RunDir(root, "report", outputs={"report": PAGE})


def read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise ToolchainError(f"{root}: not a run directory (no such directory)")
    path = root / MANIFEST
    if not path.is_file():
        raise ToolchainError(f"{root}: not a run directory (no {MANIFEST}; a stage writes it when it finishes)")
    manifest = read_json(path)
    stages = manifest.get("stages") if isinstance(manifest, dict) else None
    if not isinstance(stages, dict) or not all(isinstance(e, dict) for e in stages.values()):
        raise ToolchainError(f"{path}: not a toolchain manifest (expected an object with a 'stages' object)")
    return manifest


def read_outputs(root: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Every output the manifest lists for one stage, read and checked: JSON parsed, JSON Lines
    parsed line by line, PNG as its bytes (decoded once, so that a truncated file is caught
    here and not as a broken image in the page), anything else only checked to exist."""
    out: dict[str, Any] = {}
    for name, rel in (entry.get("outputs") or {}).items():
        path = root / rel
        if not path.exists():
            raise ToolchainError(f"{path}: listed in {root / MANIFEST} as an output ({name}) but missing")
        if path.suffix == ".json":
            out[name] = read_json(path)
        elif path.suffix == ".jsonl":
            out[name] = read_json_lines(path)
        elif path.suffix == ".png":
            out[name] = read_png(path)
        else:
            out[name] = path
    return out


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ToolchainError(f"{path}: not valid JSON ({getattr(exc, 'msg', exc.__class__.__name__)})") from None


def read_json_lines(path: Path) -> list[Any]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ToolchainError(f"{path}: line {i} is not valid JSON ({exc.msg})") from None
    return rows


def read_png(path: Path) -> bytes:
    from PIL import Image, UnidentifiedImageError

    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ToolchainError(f"{path}: not a PNG file (no PNG signature)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every row: raises on a truncated or damaged file
    except (OSError, SyntaxError, UnidentifiedImageError) as exc:
        raise ToolchainError(f"{path}: damaged or truncated PNG ({exc})") from None
    return data
