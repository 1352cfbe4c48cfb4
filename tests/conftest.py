"""Markers: `slow` runs only with --run-slow; `vivado` and `gpu` skip, with the reason, where
the tool or device is missing. The run is spread over pytest-xdist workers (pyproject.toml's
addopts: `-n auto --dist loadfile`, a test file's tests and module fixtures stay in one worker;
`-n 0` runs in one process), one per core up to MAX_WORKERS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests' own helper modules


# Most tests keep one core busy (g++, Verilator, FINN's Python, small torch models): a worker per
# core roughly divides the wall time (one process, cold caches: 1,043 s of CPU; 997 s wall idle); more
# than 4 only add memory (each worker imports torch, Brevitas and FINN).
MAX_WORKERS = 4


def _cores() -> int:
    """The cores this process may run on (os.cpu_count() where the platform cannot say)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pytest_xdist_auto_num_workers(config):
    return max(1, min(MAX_WORKERS, _cores()))


def pytest_configure(config):
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        # torch (and OpenMP in any child process) would start a thread per core in every worker;
        # set before torch is imported, so workers share the cores instead of oversubscribing them
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores() // workers)))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    marked = {name: [i for i in items if name in i.keywords] for name in ("slow", "vivado", "gpu")}
    if marked["slow"] and not config.getoption("--run-slow"):
        skip = pytest.mark.skip(reason="slow test: run with --run-slow (make test-all)")
        for item in marked["slow"]:
            item.add_marker(skip)
    if marked["vivado"]:
        from toolchain.hw.finn_env import missing_xilinx_tools

        missing = missing_xilinx_tools()
        if missing:
            skip = pytest.mark.skip(reason=f"needs Xilinx tools, not on PATH: {', '.join(missing)}")
            for item in marked["vivado"]:
                item.add_marker(skip)
    if marked["gpu"]:
        import torch

        if not torch.cuda.is_available():
            skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False")
            for item in marked["gpu"]:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def finn_env(tmp_path_factory):
    """FINN keeps settings in ~/.finn and exports its paths: keep both inside the test session."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for var in ("FINN_BUILD_DIR", "FINN_DEPS", "FINN_DEPS_DEFINITIONS", "NUM_DEFAULT_WORKERS"):
            mp.delenv(var, raising=False)
        yield home
