"""Make finn-plus usable as a library, with or without the Xilinx tools.

finn-plus expects to be started through its own CLI (`run_finn.py`), which creates its global
settings and loads Vivado's XSI simulator. Outside that CLI, its documented way in is
`finn.util.settings.initialize_dummy_settings()`; we then point the build directory at an
absolute path of the caller's choosing. The builder imports `finn.xsi.SimEngine` at import time
although only RTL simulation uses it; without Vivado that import fails, so a placeholder that
raises a clear error when RTL simulation is actually attempted takes its place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import ToolchainError

XILINX_TOOLS = ("vivado", "vitis_hls")


def missing_xilinx_tools() -> list[str]:
    """The Xilinx executables not on PATH (empty when a bitstream build can run)."""
    return [tool for tool in XILINX_TOOLS if shutil.which(tool) is None]


class XilinxToolMissing(ToolchainError):
    pass


def prepare_finn(build_dir: str | Path) -> Path:
    """Initialise finn-plus settings with `build_dir` (made absolute) as FINN's build directory.

    Call once before importing `finn.builder.build_dataflow` or running FINN transformations.
    """
    from finn.util import settings

    root = Path(build_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    settings.initialize_dummy_settings()
    settings.get_settings().finn_build_dir = root
    _bind_sim_engine()
    return root


def _bind_sim_engine() -> None:
    import finn.xsi as xsi

    if "SimEngine" in vars(xsi):
        return
    if not missing_xilinx_tools():
        xsi.ensure_available()  # real XSI: builds or loads finn_xsi against the installed Vivado
        return

    class SimEngine:  # noqa: D401 - stands in for finn.xsi.SimEngine
        """Placeholder: RTL simulation needs Vivado's XSI library."""

        def __init__(self, *args, **kwargs):
            raise XilinxToolMissing(
                "RTL simulation needs Vivado's XSI (vivado not found on PATH); "
                "run this step where Vivado is installed (see docker/)")

    xsi.SimEngine = SimEngine
