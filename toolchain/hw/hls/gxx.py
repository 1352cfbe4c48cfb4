"""g++ C simulation of HLS kernels against the ap_types shipped in hls4ml.

No Xilinx install is needed: hls4ml's wheel carries the Apache-2.0 `ap_int.h` / `hls_stream.h`,
found at run time inside the installed package (never copied into this repository). Binaries
are cached by a hash of everything that goes into them, so a test suite compiles each parameter
set once. Used by the LIF kernel (`toolchain.hw.snn.lif.csim`), the event-driven accelerator
(`toolchain.hw.snn.event.accel_csim`) and its FIFO model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ...atomic import atomic_path
from ...errors import ToolchainError

# -O1: the harness runs a few thousand neuron updates, so compile time dominates (-O2 adds ~25 %),
# and at -O2 g++ 12 warns of undefined behaviour in ap_private.h's reversed-range branch (not
# taken here, but not worth letting the optimiser reason from).
CXX_FLAGS = ("-O1", "-std=c++14")


def ap_types_dir() -> Path:
    """hls4ml's vendored ap_types folder; a one-line error when hls4ml is not installed."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("C simulation of the LIF kernel needs the ap_int headers of the Python package "
                             "hls4ml: pip install --no-deps hls4ml==1.3.0")
    for root in spec.submodule_search_locations:
        path = Path(root) / "templates" / "vivado" / "ap_types"
        if (path / "ap_int.h").is_file() and (path / "hls_stream.h").is_file():
            return path
    raise ToolchainError(f"hls4ml is installed but has no templates/vivado/ap_types/ap_int.h "
                         f"(looked in {list(spec.submodule_search_locations)})")


def find_cxx() -> str:
    cxx = shutil.which("g++")
    if cxx is None:
        raise ToolchainError("C simulation of the LIF kernel needs g++ on PATH (apt-get install g++)")
    return cxx


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"toolchain-lif-csim-{os.getuid()}"


def compile_cached(source: str, headers: Sequence[Path], prefix: str, what: str,
                   cache_dir: str | os.PathLike | None = None) -> Path:
    """g++ of `source` against `headers` (their folders on the include path) and hls4ml's
    ap_types; the executable is cached under a hash of the source, the headers' text, the
    compiler and its flags."""
    cxx, inc = find_cxx(), ap_types_dir()
    key = hashlib.sha256("\0".join([source, *(h.read_text() for h in headers), cxx, *CXX_FLAGS,
                                    str(inc)]).encode())
    out_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    exe = out_dir / f"{prefix}_{key.hexdigest()[:20]}"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / f"{exe.name}.cpp"
    with atomic_path(src) as tmp:
        tmp.write_text(source)
    with atomic_path(exe) as tmp:
        dirs = [f"-I{d}" for d in dict.fromkeys(h.parent for h in headers)]
        cmd = [cxx, *CXX_FLAGS, f"-I{inc}", *dirs, "-o", str(tmp), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"g++ failed on {what} ({src}): {_first_error(res.stderr)}")
        tmp.chmod(0o755)
    return exe


def _first_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return next((ln for ln in lines if "error" in ln), lines[0] if lines else "no message")
