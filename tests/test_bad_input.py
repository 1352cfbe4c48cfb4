"""Bad input: a one-line error naming the problem, a non-zero exit, nothing half-written."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from checks import assert_one_line_error
from radioml_files import write_radioml

from toolchain.atomic import atomic_path
from toolchain.cli import main


def run_cli(*argv):
    done = subprocess.run([sys.executable, "-m", "toolchain", *map(str, argv)], capture_output=True, text=True)
    return done.returncode, done.stderr


def rewrite(path, name, data):
    with h5py.File(path, "r+") as h5:
        del h5[name]
        if data is not None:
            h5.create_dataset(name, data=data)


@pytest.fixture
def good(tmp_path):
    return write_radioml(tmp_path / "good.h5", per_block=4, snrs=(0, 10))


def test_missing_file(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "nope.h5")]) == 1
    err = capsys.readouterr().err
    assert "nope.h5: no such file" in err and err.count("\n") == 1


@pytest.mark.parametrize("name, data, needle", [
    ("Z", None, "missing dataset 'Z'"),
    ("X", np.zeros((192, 32), np.float32), "'X' has shape (192, 32)"),
    ("X", np.zeros((192, 32, 2), np.int16), "'X' has dtype int16"),
    ("Y", np.zeros((192, 10), np.int64), "'Y' has shape (192, 10)"),
    ("Y", np.array([b"x"] * 192 * 24).reshape(192, 24), "'Y' has dtype"),
    ("Z", np.zeros((100, 1), np.int64), "'Z' has shape (100, 1)"),
    ("Y", np.full((192, 24), 1, np.int64), "'Y' row 0 is not one-hot"),
])
def test_malformed_datasets(good, tmp_path, name, data, needle):
    rewrite(good, name, data)
    out = tmp_path / "run"
    rc, err = run_cli("data", "prepare", good, "--out", out)
    assert_one_line_error(rc, err, "good.h5", needle)
    assert not out.exists()


def test_unordered_file(good):
    with h5py.File(good, "r+") as h5:
        z = h5["Z"][:]
        z[[0, 5]] = z[[5, 0]]  # one frame of (OOK, 10 dB) lands inside the (OOK, 0 dB) block
        h5["Z"][:] = z
    rc, err = run_cli("data", "info", good)
    assert_one_line_error(rc, err, "not contiguous", "(modulation, SNR) blocks")


def test_truncated_file(good, tmp_path):
    cut = tmp_path / "cut.h5"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    rc, err = run_cli("data", "info", cut)
    assert_one_line_error(rc, err, "cut.h5", "truncated or corrupt")


def test_not_hdf5(tmp_path):
    f = tmp_path / "text.h5"
    f.write_text("hello")
    rc, err = run_cli("data", "show", f)
    assert_one_line_error(rc, err, "text.h5: not a readable HDF5 file")


def test_nan_frames_found_by_check(good):
    with h5py.File(good, "r+") as h5:
        h5["X"][7, 0, 0] = np.inf
        h5["X"][150, 3, 1] = np.nan
    rc, err = run_cli("data", "check", good)
    assert_one_line_error(rc, err, "2 frame(s)", "rows 7, 150")


def test_config_errors_before_any_work(good, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  batch_sise: 12\n")
    out = tmp_path / "run"
    rc, err = run_cli("data", "prepare", good, "--out", out, "--config", cfg)
    assert_one_line_error(rc, err, "'data.batch_sise'")
    rc, err = run_cli("data", "synth", "--out", tmp_path / "s.h5", "--set", "synth.frames_per_pair=-1")
    assert_one_line_error(rc, err, "'synth.frames_per_pair'")
    rc, err = run_cli("data", "synth", "--out", tmp_path / "s.h5", "--snrs", "0:10:0")
    assert_one_line_error(rc, err, "--snrs")
    assert not out.exists() and not (tmp_path / "s.h5").exists()


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "artifact.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"new, half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]
