"""The pinned environment imports the real libraries, and FINN's builder works outside its CLI."""

import pytest


@pytest.fixture
def finn_home(tmp_path, monkeypatch):
    # FINN keeps settings in ~/.finn and exports FINN_BUILD_DIR; keep both inside the test.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path / "unused"))
    (tmp_path / "home").mkdir()
    return tmp_path


def test_builder_imports_with_settings(finn_home):
    from toolchain.hw.finn_env import prepare_finn

    root = prepare_finn(finn_home / "finn_build")
    import finn.builder.build_dataflow as build
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType
    from finn.util.settings import get_settings

    assert get_settings().finn_build_dir == root and root.is_dir()
    cfg = DataflowBuildConfig(output_dir=str(finn_home / "out"), synth_clk_period_ns=4.0,
                              generate_outputs=[DataflowOutputType.ESTIMATE_REPORTS])
    assert callable(build.build_dataflow_cfg) and cfg.synth_clk_period_ns == 4.0


def test_rtlsim_placeholder_explains_missing_vivado(finn_home):
    from toolchain.hw.finn_env import XilinxToolMissing, missing_xilinx_tools, prepare_finn

    if not missing_xilinx_tools():
        pytest.skip("Vivado is installed: the real XSI is used")
    prepare_finn(finn_home / "b")
    import finn.xsi

    with pytest.raises(XilinxToolMissing, match="vivado not found on PATH"):
        finn.xsi.SimEngine()


def test_quantization_stack_versions():
    import brevitas
    import onnx
    import qonnx.core.modelwrapper  # noqa: F401
    import torch

    assert torch.__version__.startswith("2.13.0")
    assert brevitas.__version__ == "0.13.4" and onnx.__version__ == "1.21.0"
