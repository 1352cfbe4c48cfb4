"""Assertions shared by the tests."""


def assert_one_line_error(rc, err, *needles):
    """A user error: exit 1, one line on stderr naming the problem, no traceback."""
    assert rc == 1, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def interrupt_once_written(argv, checkpoint, wait_s=60):
    """Run `python -m toolchain ARGV`, press Ctrl-C (SIGINT) as soon as `checkpoint` exists;
    return (exit code, stderr)."""
    import signal
    import subprocess
    import sys
    import time

    # The default SIGINT disposition in the child, whatever the test process has: Python keeps an
    # inherited SIG_IGN, and then Ctrl-C would not reach the stage under test.
    proc = subprocess.Popen([sys.executable, "-m", "toolchain", *map(str, argv)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + wait_s
        while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)  # a loaded machine can take long to unwind
    finally:
        proc.kill()
    return proc.returncode, err


def estimate_only_build(folder, tmp_path_factory):
    """`folder` where the Xilinx tools are missing (the build stops after HW code generation
    anyway); where they exist, a copy whose steps end there, so that tests stay quick."""
    import shutil

    from toolchain.hw.finn_env import missing_xilinx_tools

    if missing_xilinx_tools():
        return folder
    copy = tmp_path_factory.mktemp("build") / folder.name
    shutil.copytree(folder, copy)
    head, tail = (copy / "build.yaml").read_text().split("  - step_hw_ipgen\n")
    (copy / "build.yaml").write_text(head + tail[tail.index("outputs:"):])
    return copy


def kill_once(argv, checkpoint, ready, wait_s=300):
    """Run `python -m toolchain ARGV` and kill it with SIGKILL (no handler runs, as in a crash or
    an out-of-memory kill) as soon as `checkpoint` holds a payload for which `ready(payload)` is
    true; return that payload."""
    import subprocess
    import sys
    import time

    from toolchain.checkpoint import load_checkpoint

    proc = subprocess.Popen([sys.executable, "-m", "toolchain", *map(str, argv)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen, payload = None, None
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and proc.poll() is None:
            stamp = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
            if stamp is not None and stamp != seen:
                seen, candidate = stamp, load_checkpoint(checkpoint)  # written by rename: always whole
                if ready(candidate):
                    payload = candidate
                    break
            time.sleep(0.02)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=60)
    assert payload is not None, f"the run ended (rc {proc.returncode}) or timed out before the checkpoint was ready: {err}"
    return payload


def assert_same_tree(a, b, where="checkpoint"):
    """Nested dicts/lists of tensors and plain values equal exactly, tensor for tensor."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(set(a) ^ set(b), key=str)[:5]} in one only"
        for key in a:
            assert_same_tree(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths {len(a)} and {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tree(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def require_tool(missing_reason):
    """A test that needs a tool the install provides (browser, Verilator, Yosys): skip with the
    reason where it is missing, but fail under CI (`.ci/run` sets TOOLCHAIN_REQUIRE_TOOLS=1),
    where a missing tool means a broken install step, not a machine without it."""
    import os

    import pytest

    if missing_reason is None:
        return
    if os.environ.get("TOOLCHAIN_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{missing_reason} (TOOLCHAIN_REQUIRE_TOOLS=1: CI requires it)")
    pytest.skip(missing_reason)


def report_sections(html):
    """The run report's sections (toolchain/reports/templates/report.html.j2): stage -> its HTML."""
    import re

    found = re.findall(r'<section class="stage[^"]*" id="stage-[^"]+" data-stage="([^"]+)">(.*?)</section>', html,
                       re.S)
    return dict(found)
