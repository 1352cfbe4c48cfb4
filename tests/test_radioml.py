import math
import pickle

import h5py
import numpy as np
import pytest
from radioml_files import expected_label, write_radioml

from toolchain.data.classes import CLASSES, NUM_CLASSES, SNRS
from toolchain.data.dataset import RadioMLDataset
from toolchain.data.sampling import ContiguousBatchSampler
from toolchain.data.radioml import make_splits, official_split, scan
from toolchain.errors import ToolchainError


def reference_split(num_mods=24, num_snrs=26, per_block=4096):
    """The challenge sandbox's split loop, as published (global seed, Python lists)."""
    state = np.random.get_state()
    try:
        np.random.seed(2018)
        train, test = [], []
        for mod in range(num_mods):
            for snr_idx in range(num_snrs):
                start = num_snrs * per_block * mod + per_block * snr_idx
                idx = list(range(start, start + per_block))
                split = int(np.ceil(0.1 * per_block))
                np.random.shuffle(idx)
                train.extend(idx[split:])
                test.extend(idx[:split])
        return np.array(train), np.array(test)
    finally:
        np.random.set_state(state)


def test_official_split_at_full_scale(tmp_path):
    """The real file's layout (24 x 26 x 4096 frames; X left unallocated, so the file is tiny)."""
    n = NUM_CLASSES * len(SNRS) * 4096
    path = tmp_path / "full.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("X", shape=(n, 1024, 2), dtype="float32", chunks=(64, 1024, 2))
        y = h5.create_dataset("Y", shape=(n, NUM_CLASSES), dtype="int64", chunks=(1 << 16, NUM_CLASSES), compression="gzip")
        z = h5.create_dataset("Z", shape=(n, 1), dtype="int64", chunks=(1 << 16, 1), compression="gzip")
        labels = np.repeat(np.arange(NUM_CLASSES), len(SNRS) * 4096)
        for lo in range(0, n, 1 << 18):
            hi = min(n, lo + (1 << 18))
            onehot = np.zeros((hi - lo, NUM_CLASSES), dtype=np.int64)
            onehot[np.arange(hi - lo), labels[lo:hi]] = 1
            y[lo:hi] = onehot
            z[lo:hi, 0] = np.asarray(SNRS)[(np.arange(lo, hi) // 4096) % len(SNRS)]
    index = scan(path)
    assert len(index.blocks) == 624 and all(b.size == 4096 for b in index.blocks)
    train, test = official_split(index)
    ref_train, ref_test = reference_split()
    assert test.size == 624 * 410
    np.testing.assert_array_equal(test, ref_test)
    np.testing.assert_array_equal(train, ref_train)


def test_blocks_of_any_size_and_snr_grid(tmp_path):
    path = write_radioml(tmp_path / "f.h5", per_block=50, snrs=(-7, 3, 13.5), labels=[3, 0, 7],
                         y_dtype="float32", z_dtype="float64")
    index = scan(path)
    assert [(CLASSES[b.label], b.snr, b.size) for b in index.blocks[:4]] == [
        ("BPSK", -7, 50), ("BPSK", 3, 50), ("BPSK", 13.5, 50), ("OOK", -7, 50)]
    train, test = official_split(index)
    assert test.size == 9 * math.ceil(0.1 * 50)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).size == index.num_frames


def test_val_carved_from_train_and_filters(tmp_path):
    path = write_radioml(tmp_path / "f.h5", per_block=40, snrs=(-10, 0, 10, 20))
    index = scan(path)
    _, official_test = official_split(index)
    s = make_splits(index, val_fraction=0.25, val_seed=3, train_snrs=[10, 20], classes=["BPSK", "QPSK", "FM"])
    assert set(map(len, (np.intersect1d(s["train"], s["val"]), np.intersect1d(s["train"], s["test"])))) == {0}
    assert np.intersect1d(s["val"], s["test"]).size == 0
    labels, snrs = index.labels_and_snrs(s["train"])
    assert set(snrs) == {10, 20} and set(labels) == {3, 4, 21}
    _, val_snrs = index.labels_and_snrs(s["val"])
    assert set(val_snrs) == {10, 20}
    test_labels, test_snrs = index.labels_and_snrs(s["test"])
    assert set(test_snrs) == {-10, 0, 10, 20}, "the test set keeps every SNR"
    assert set(test_labels) == {3, 4, 21}
    # 36 train frames per block, a quarter held out
    assert s["val"].size == 6 * 9 and s["train"].size == 6 * 27
    # test rows do not depend on validation or SNR filters
    np.testing.assert_array_equal(make_splits(index)["test"], np.sort(official_test))
    again = make_splits(index, val_fraction=0.25, val_seed=3, train_snrs=[10, 20], classes=["BPSK", "QPSK", "FM"])
    np.testing.assert_array_equal(again["val"], s["val"])
    other = make_splits(index, val_fraction=0.25, val_seed=4)
    assert not np.array_equal(other["val"], make_splits(index, val_fraction=0.25, val_seed=3)["val"])


def test_filter_errors_name_the_value(tmp_path):
    index = scan(write_radioml(tmp_path / "f.h5", labels=[0, 1]))
    with pytest.raises(ToolchainError, match="data.train_snrs: 12 dB"):
        make_splits(index, train_snrs=[12])
    with pytest.raises(ToolchainError, match="data.classes: FM"):
        make_splits(index, classes=["FM"])


@pytest.mark.parametrize("layout", [
    {}, {"chunks": True}, {"compression": "gzip", "compression_opts": 4}, {"compression": "lzf", "shuffle": True},
])
def test_reads_any_layout_and_dtype(tmp_path, layout):
    path = write_radioml(tmp_path / "f.h5", per_block=6, labels=[1, 5], y_dtype="uint8", z_dtype="int16",
                         z_shape_2d=False, **layout)
    ds = RadioMLDataset.splits(path)["train"]
    x, y, snr = ds.read(np.arange(len(ds)))
    np.testing.assert_array_equal(x[:, 0, 0], ds.rows)  # the frames asked for, channels first
    np.testing.assert_array_equal(x[0, 1], np.arange(32))
    assert [expected_label(path, int(r)) for r in ds.rows[:3]] == list(y[:3])
    assert set(snr) == {-10, 0, 10}


def test_batched_read_matches_items_in_requested_order(tmp_path):
    path = write_radioml(tmp_path / "f.h5", per_block=30)
    ds = RadioMLDataset.splits(path, val_fraction=0.1)["train"]
    pos = np.random.default_rng(0).permutation(len(ds))[:200]
    items = ds.__getitems__(pos.tolist())
    for p, (x, y, s) in zip(pos[:20], items[:20]):
        xi, yi, si = ds[int(p)]
        assert (x == xi).all() and y == yi and s == si
    assert [int(it[0][0, 0]) for it in items] == ds.rows[pos].tolist()


def test_dataloader_workers_and_epochs(tmp_path):
    path = write_radioml(tmp_path / "f.h5", per_block=20, snrs=(0, 10))
    ds = RadioMLDataset.splits(path)["train"]
    loader = ds.loader(batch_size=64, shuffle=True, seed=1, num_workers=2, run_length=4)
    orders = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        seen = []
        for x, y, s in loader:
            assert x.shape[1:] == (2, 32) and x.dtype.is_floating_point
            rows = x[:, 0, 0].long().numpy()
            np.testing.assert_array_equal(y.numpy(), scan(path).labels_and_snrs(rows)[0])
            seen.extend(rows.tolist())
        assert sorted(seen) == ds.rows.tolist(), "every training frame exactly once per epoch"
        orders.append(seen)
    assert orders[0] != orders[1]


@pytest.mark.parametrize("batch, blocks_per_batch", [(128, 32), (1024, 128)])
def test_shuffled_batches_mix_the_files_blocks(tmp_path, batch, blocks_per_batch):
    """A file in the real order (24 classes x 26 SNRs, each (class, SNR) a block of consecutive
    rows): with the default run length every batch of 128 holds frames of >= 32 blocks, one of
    1024 of >= 128, and reads stay runs of consecutive rows."""
    path = write_radioml(tmp_path / "f.h5", per_block=64, snrs=SNRS, length=4)
    ds = RadioMLDataset.splits(path)["train"]
    loader = ds.loader(batch_size=batch, shuffle=True, seed=0)
    assert loader.sampler.run_length == min(8, batch // 32)
    seen, counts, spans = [], [], []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        for x, y, snr in loader:
            rows = x[:, 0, 0].long().numpy()
            seen.extend(rows.tolist())
            if len(rows) == batch:
                counts.append(len(set(zip(y.tolist(), snr.tolist()))))
                positions = np.sort(np.searchsorted(ds.rows, rows))
                spans.append(np.count_nonzero(np.diff(positions) > 1) + 1)
    assert sorted(seen) == sorted(ds.rows.tolist() * 2)
    assert min(counts) >= blocks_per_batch, counts
    # runs of consecutive frames, each one read (a block's last run may be shorter)
    assert np.median(spans) <= 1.25 * batch // loader.sampler.run_length, spans
    # The old default, random runs of 16 frames regardless of blocks, fails this (each run meets
    # one or two blocks).
    old = ContiguousBatchSampler(len(ds), batch, True, run_length=16)
    assert max(len(set(ds.blocks[b].tolist())) for b in old) < blocks_per_batch


def test_sampler_ranks_partition_the_batches():
    kw = dict(n=1000, batch_size=64, shuffle=True, seed=5, run_length=8, world_size=3)
    parts = [sum(ContiguousBatchSampler(rank=r, **kw), []) for r in range(3)]
    assert sorted(sum(parts, [])) == list(range(1000))
    # 15 full batches: 5 rounds of 3, then the 40 frames left shared as one more batch per rank
    assert [len(ContiguousBatchSampler(rank=r, **kw)) for r in range(3)] == [6, 6, 6]
    assert all(len(list(ContiguousBatchSampler(rank=r, **kw))) == 6 for r in range(3))


def test_dataset_holds_no_frames(tmp_path):
    """What travels to a worker is the row index, never X (memory independent of file size)."""
    path = write_radioml(tmp_path / "f.h5", per_block=40, length=1024)
    ds = RadioMLDataset.splits(path)["train"]
    ds.read([0, 1, 2])  # opens the file in this process
    x_bytes = len(ds) * 1024 * 2 * 4
    assert len(pickle.dumps(ds)) < 0.05 * x_bytes


def test_nan_frame_is_reported_by_row(tmp_path):
    path = write_radioml(tmp_path / "f.h5", per_block=10)
    with h5py.File(path, "r+") as h5:
        h5["X"][17, 3, 1] = np.nan
    ds = RadioMLDataset(scan(path), np.arange(30))
    with pytest.raises(ToolchainError, match="frame 17 of 'X' holds NaN"):
        ds.read(np.arange(30))
