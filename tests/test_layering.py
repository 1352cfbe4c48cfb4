"""The package's layering (docs/stages.md, "Layers"): every module imports only its own package
and the layers below it, lazy imports inside functions included, so a back-import fails here."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "toolchain"

# Top to bottom; packages on one line are siblings and do not import each other.
LAYERS = [
    ["cli"],
    ["stages"],
    ["compression"],
    ["train", "hw"],
    ["checkpoint"],
    ["models", "reports"],
    ["snn"],
    ["data"],
    ["rundir"],
    ["config"],
    ["errors", "atomic", "plotting", ""],  # "" is the package's own __init__ (its version)
]
ENTRY_MODULES = {"__main__", "run", "train_initial", "prune", "reduce_bits", "evaluate", "export_onnx",
                 "export_inference_cost", "export_nir", "convert", "finn_build",
                 "classify", "report"}  # `python -m toolchain.<x>`
# config holds the class names and frame length the defaults need, nothing else of the package.
ALLOWED_UP = {("config", "data.classes")}


def unit(module: str) -> str:
    """`toolchain.hw.snn.dense.verify` -> `hw`; an entry module counts as the CLI."""
    top = module.split(".")[1] if "." in module else ""
    return "cli" if top in ENTRY_MODULES else top


def level(u: str) -> int:
    for i, names in enumerate(LAYERS):
        if u in names:
            return i
    raise AssertionError(f"toolchain.{u} is in no layer of tests/test_layering.py: place it there")


def module_name(path: Path, root: Path) -> str:
    parts = ["toolchain", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[str]:
    """Every toolchain module `path` imports, at module level or inside functions."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [target] if node.module else [_submodule_or_package(target, a.name, root) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [t for t in found if t == "toolchain" or t.startswith("toolchain.")]


def _submodule_or_package(package: str, name: str, root: Path) -> str:
    """`from . import x`: x is a module of the package, or a name defined in the package itself."""
    folder = root.joinpath(*package.split(".")[1:])
    return f"{package}.{name}" if (folder / f"{name}.py").exists() or (folder / name).is_dir() else package


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        src = module_name(path, root)
        for target in imports(path, root):
            a, b = unit(src), unit(target)
            if a == b or (a, target.removeprefix("toolchain.")) in ALLOWED_UP:
                continue
            la, lb = level(a), level(b)
            if lb < la or (lb == la and a != b):
                bad.append(f"{src} imports {target}: {b or 'toolchain'} is not below {a or 'toolchain'}")
    return bad


def test_no_module_imports_up_the_stack():
    assert violations() == []


def test_the_check_sees_a_lazy_back_import(tmp_path):
    pkg = tmp_path / "toolchain"
    (pkg / "reports").mkdir(parents=True)
    (pkg / "reports" / "energy.py").write_text("def f():\n    from ..models.snn import SNN\n")
    (pkg / "data").mkdir()
    (pkg / "data" / "x.py").write_text("from ..cli import main\nfrom ..errors import ToolchainError\n")
    assert violations(pkg) == [
        "toolchain.data.x imports toolchain.cli: cli is not below data",
        "toolchain.reports.energy imports toolchain.models.snn: models is not below reports",
    ]


def test_config_imports_no_heavy_library():
    code = ("import sys, toolchain.config; "
            "print(sorted(m for m in ('torch', 'finn', 'qonnx', 'brevitas', 'onnx') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_importing_the_snn_hardware_leaves_finns_mvau_alone():
    pytest.importorskip("finn")
    code = ("from finn.custom_op.fpgadataflow.hls import custom_op as before; mvau = before['MVAU_hls']; "
            "import toolchain.hw.snn; from qonnx.custom_op.registry import getCustomOp; "
            "from finn.custom_op.fpgadataflow.hls import custom_op as after; "
            "print(after['MVAU_hls'] is mvau, after['MVAU_spike_hls'].__name__, mvau.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "MVAU_spike_hls", "finn.custom_op.fpgadataflow.hls.matrixvectoractivation_hls"]
