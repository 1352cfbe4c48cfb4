"""Markers: `slow` runs only with --run-slow; `vivado` and `gpu` skip, with the reason, where
the tool or device is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests' own helper modules


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
