"""The event-driven SNN accelerator (constellation encoder -> spiking convs -> spiking dense,
one dataflow top in C++) compiled with g++ against hls4ml's ap_types, against the PyTorch
model: class and final readout membranes of every frame bit for bit, every kernel's loop
iterations equal to its cycle formula, frame boundaries from TLAST, and broken kernels caught."""

from __future__ import annotations

import importlib.util
import re
import shutil

import numpy as np
import pytest
import torch

from snn_networks import SHIPPED, SMALL, TIED, tie_readout
from toolchain.config import ModelConfig
from toolchain.errors import ToolchainError
from toolchain.hw.snn.event import accel_csim
from toolchain.hw.snn.event.accel_verify import check_frames, compare, model_reference, verify, verify_frames
from toolchain.hw.snn.event.accelerator import map_model
from toolchain.models import build_model

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None or importlib.util.find_spec("hls4ml") is None,
    reason="C simulation needs g++ on PATH and the hls4ml package (its ap_types headers)")



def _model(kw: dict, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(**kw)).eval()


@pytest.fixture(scope="module")
def shipped():
    model = _model(SHIPPED)
    spec = map_model(model)
    return model, spec, accel_csim.compile_accelerator(spec)


@pytest.fixture(scope="module")
def small():
    model = _model(SMALL, seed=1)
    spec = map_model(model)
    codes, _ = check_frames(spec, n_random=200, seed=1, synthetic_classes=8)
    return model, spec, codes, model_reference(model, spec, codes)


# The default run checks the shipped geometry on 3 classes x 26 SNRs + 10 random frames (~5 s);
# the slow one on 1,000 (~40 s). The default implementation is RTL: its stitched small network is
# bit exact by default (test_snn_rtl_accelerator.py), the shipped geometry's 1,027 frames are slow.
@pytest.mark.parametrize("classes,frames", [(3, 88), pytest.param(24, 1000, marks=pytest.mark.slow)])
def test_shipped_network_bit_exact(shipped, classes, frames):
    model, spec, exe = shipped
    codes, kinds = check_frames(spec, n_random=frames - classes * 26, seed=0, synthetic_classes=classes)
    assert len(codes) == frames and kinds.count("random") == frames - classes * 26 >= 10
    assert (codes == 127).any() and (codes == -128).any()  # saturating amplitudes reach both ends
    result, hw = verify(model, spec, codes, exe=exe)
    assert result["class_mismatches"] == 0 and result["membrane_mismatches"] == 0, result
    assert result["cycle_formula_mismatches"] == {k: 0 for k in hw.iterations}, result
    assert result["ok"]
    assert len(set(hw.classes.tolist())) > 2  # the classes are not constant
    # conv0 sees one event per sample: 1024 events + 16 steps x 128 sweep cycles (SP 2) + the frame word
    assert [c.sp for c in spec.convs] == [2, 4]
    assert (hw.iterations["conv0"] == 1024 + 16 * 128 + 1).all()


def test_small_network_every_option_bit_exact(small):
    model, spec, codes, ref = small
    hw = accel_csim.run_frames(spec, codes)
    result = compare(spec, ref, hw)
    assert result["ok"], result
    counts = ref["readout"]
    ties = (counts == counts.max(1, keepdims=True)).sum(1) > 1
    assert ties.sum() > 10  # tied spike counts happen, and the lowest index won them
    membranes = ref["membranes"]
    p = model.layers[-1].params
    assert (membranes == p.lo).sum() > 10  # the readout saturated at the lower bound


def _long_frames(spec, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """A stream of frames where frames 1, 3, 5, ... lose their TLAST and run on into the next:
    samples, TLAST flags, and for each frame the hardware closes, the input frame it should
    equal (a long frame: the result of its first FRAME_LEN samples, flagged BAD)."""
    length = spec.encoder.frame
    samples, last, expect = [], [], []
    i = 0
    while i < len(codes):
        long = len(expect) % 2 == 1 and i + 1 < len(codes)
        n = 2 if long else 1
        samples += [codes[i + k].T for k in range(n)]
        flags = np.zeros(n * length, np.uint8)
        flags[-1] = 1
        last.append(flags)
        expect.append(i)
        i += n
    return np.concatenate(samples), np.concatenate(last), expect


def _long_frames_ok(spec, ref, codes, exe) -> bool:
    samples, last, expect = _long_frames(spec, codes)
    hw = accel_csim.run_stream(spec, samples, last, exe=exe)
    return (len(hw.classes) == len(expect) and (hw.classes == ref["classes"][expect]).all()
            and (hw.membranes == ref["membranes"][expect]).all()
            and hw.bad.tolist() == [k % 2 == 1 and e + 1 < len(codes) for k, e in enumerate(expect)])


@pytest.fixture(scope="module")
def fault_cases(small):
    """Each case where a fault can show: (spec, check(exe) -> bit exact?). `small`: the small
    network's frames; `long frame`: frames longer than FRAME_LEN (TLAST missing); `tied`: a
    membrane readout with two identical weight rows, tied for the highest membrane; `edge`: the
    small network at SP 4, so the bank width 4 divides the 8-wide plane and an event in the last
    column reaches past the plane's edge into the next bank word."""
    model, spec, codes, ref = small
    few = codes[:40]
    few_ref = model_reference(model, spec, few)
    cases = {"small": (spec, lambda exe: compare(spec, ref, accel_csim.run_frames(spec, codes, exe=exe))["ok"]),
             "long frame": (spec, lambda exe: _long_frames_ok(spec, few_ref, few, exe))}
    tied = _model(TIED, seed=1)
    winner = np.bincount(model_reference(tied, map_model(tied), few)["classes"]).argmax()
    other = tie_readout(tied, int(winner))
    tied_spec = map_model(tied)
    tied_ref = model_reference(tied, tied_spec, few)
    top = tied_ref["membranes"].max(1)
    # the two tied classes hold the highest membrane on many frames: the tie rule decides them
    assert ((tied_ref["membranes"][:, winner] == top) & (tied_ref["membranes"][:, other] == top)).sum() >= 5
    cases["tied"] = (tied_spec, lambda exe: compare(tied_spec, tied_ref,
                                                    accel_csim.run_frames(tied_spec, few, exe=exe))["ok"])
    edge_spec = map_model(model, sweep_positions=4)
    assert all(c.width % c.banks[1] == 0 for c in edge_spec.convs)
    edge_ref = model_reference(model, edge_spec, few)
    cases["edge"] = (edge_spec, lambda exe: compare(edge_spec, edge_ref,
                                                    accel_csim.run_frames(edge_spec, few, exe=exe))["ok"])
    return cases


def _broken(tmp_path, name: str, old: str, new: str):
    for h in accel_csim.HEADERS:
        shutil.copy(h, tmp_path / h.name)
    text = (tmp_path / name).read_text()
    assert text.count(old) == 1
    (tmp_path / name).write_text(text.replace(old, new))
    return tmp_path


# Each patch breaks one rule of lif_step, of the frame or of the schedule; the check of its case
# (`fault_cases`) must see it.
FAULTS = {
    "strict threshold": ("lif.hpp", "v2 >= THRESHOLD", "v2 > THRESHOLD", "small"),
    "no saturation": ("lif.hpp", "if (sum < LO) sum = LO;\n        if (sum > HI) sum = HI;", "", "small"),
    "no frame reset (conv)": ("spiking_conv.hpp", "first ? state_t(0) : vmem[j][g][co]", "vmem[j][g][co]", "small"),
    "ties to the highest class": ("spiking_dense.hpp", "counts[u] > best_c", "counts[u] >= best_c", "small"),
    "membrane ties to the highest class": ("spiking_dense.hpp", "v[u] > best_v", "v[u] >= best_v", "tied"),
    # the conv reads the word the previous event is still writing: back-to-back events on one
    # word lose a sum (the C simulation models the memory's one-cycle write latency)
    "no forwarding (conv)": ("spiking_conv.hpp", "fv[bh][bw] && fa[bh][bw] == a", "false", "small"),
    "a sample past FRAME_LEN kept": ("constellation_encoder.hpp", "kept < FRAME_LEN", "kept <= FRAME_LEN",
                                     "long frame"),
    "the plane's right edge": ("spiking_conv.hpp", "ow >= int(W)", "ow > int(W)", "edge"),
    # the harness stops at a class word without the AXI TLAST
    "class output without TLAST": ("spiking_dense.hpp", "<< CLASS_BITS)), true)", "<< CLASS_BITS)), false)", "small"),
}


def test_every_fault_case_is_bit_exact_with_the_shipped_kernels(fault_cases):
    for case, (spec, check) in fault_cases.items():
        assert check(accel_csim.compile_accelerator(spec)), case


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_kernel_fails_the_check(fault_cases, fault, tmp_path):
    name, old, new, case = FAULTS[fault]
    spec, check = fault_cases[case]
    exe = accel_csim.compile_accelerator(spec, cache_dir=tmp_path / "bin", kernel_dir=_broken(tmp_path, name, old, new))
    try:
        exact = check(exe)
    except ToolchainError as err:  # the C simulation stopped (e.g. an address past a memory's end)
        assert "C simulation" in str(err)
        exact = False
    assert not exact


def test_frames_are_delimited_by_tlast(small):
    """A short frame (TLAST early) and a frame without TLAST (merged into the next one) are
    flagged BAD and cost exactly their own results: the long one gives the result of its first
    FRAME_LEN samples, and the frames after them stay bit exact."""
    model, spec, codes, ref = small
    good = codes[:6]
    length = spec.encoder.frame
    samples = [good[0].T, good[1].T[:length - 37], good[2].T, good[3].T, good[4].T, good[5].T]
    last = [np.eye(1, length, length - 1, dtype=np.uint8)[0], np.eye(1, length - 37, length - 38, dtype=np.uint8)[0],
            np.zeros(length, np.uint8),  # frame 2 loses its TLAST: it runs on into frame 3
            np.eye(1, length, length - 1, dtype=np.uint8)[0], np.eye(1, length, length - 1, dtype=np.uint8)[0],
            np.eye(1, length, length - 1, dtype=np.uint8)[0]]
    hw = accel_csim.run_stream(spec, np.concatenate(samples), np.concatenate(last))
    assert hw.bad.tolist() == [False, True, True, False, False]
    r = model_reference(model, spec, good)
    for out_i, in_i in [(0, 0), (2, 2), (3, 4), (4, 5)]:
        assert hw.classes[out_i] == r["classes"][in_i]
        assert (hw.membranes[out_i] == r["membranes"][in_i]).all()


@pytest.mark.parametrize("key,value", [("snn_encoder", "delta"), ("snn_gamma", 0.5)])
def test_unmappable_encodings_are_a_one_line_error(key, value):
    model = _model({**SMALL, key: value})
    with pytest.raises(ToolchainError, match=rf"^cannot map model\.{key}={value}") as err:
        map_model(model)
    assert "\n" not in str(err.value)


def test_ram_style_emits_the_storage_pragma(small):
    import dataclasses

    _, spec, _, _ = small
    src = accel_csim.render_sources(spec)
    # one read and one write port per memory (distributed RAM has no second write port)
    assert len(re.findall(r"BIND_STORAGE variable=acc type=ram_s2p impl=lutram latency=1", src)) == len(spec.convs)
    assert "ram_t2p" not in src
    # the readout's ROM: a word per weight row, two rows a cycle through its two ports
    assert "ARRAY_RESHAPE variable=dense0_w complete dim=2\n#pragma HLS BIND_STORAGE variable=dense0_w type=rom_2p" in src
    block = dataclasses.replace(spec, convs=(dataclasses.replace(spec.convs[0], ram_style="block"), *spec.convs[1:]))
    assert "variable=acc type=ram_s2p impl=bram" in accel_csim.render_sources(block)
    with pytest.raises(ToolchainError, match="ram_style"):
        accel_csim.render_sources(dataclasses.replace(
            spec, convs=(dataclasses.replace(spec.convs[0], ram_style="flash"), *spec.convs[1:])))


def test_deep_fifos_go_to_block_ram_where_that_saves_luts(shipped):
    from toolchain.hw.snn import resources

    _, spec, _ = shipped
    depths = [2, 32, 128]
    src = accel_csim.render_sources(spec, dict(zip(["encoder", "conv0", "conv1"], depths)))
    assert "variable=conv1_out depth=128\n#pragma HLS BIND_STORAGE variable=conv1_out type=fifo impl=bram" in src
    assert "BIND_STORAGE variable=encoder_out type=fifo impl=srl" in src
    widths = resources.stream_widths(spec)
    r = resources.fifos(spec, depths)
    assert r["storage"] == ["srl", "srl", "bram"]
    assert resources.fifo_storage(32, 500) == "srl"  # one SRL32 per bit, however wide (FINN's fifo.sv too)
    assert r["bram18"] == resources.bram18_count(128, widths[2]) > 0
    all_srl = sum(w * -(-d // 32) for w, d in zip(widths, depths))
    assert r["lut"] == all_srl - widths[2] * 4 + resources.BRAM_FIFO_LUTS < all_srl


def test_cycle_bound_is_the_formula_with_every_input_active(shipped):
    from toolchain.hw.snn.event.accelerator import layer_cycles, word_iterations
    from toolchain.hw.snn.resources import cycle_bound

    _, spec, _ = shipped
    t = spec.steps
    loops = [np.full((1, t), spec.encoder.group)]
    for i, c in enumerate(spec.convs):
        epc = 1 if i + 1 < len(spec.convs) else spec.dense.events_per_cycle
        loops.append(word_iterations(np.ones((1, t, c.cout, c.height, c.width), np.int64), c.sp, epc))
    assert layer_cycles(spec, [lp[0] for lp in loops]) == cycle_bound(spec)
    assert cycle_bound(spec)["conv1"] == 16 * (16 * 16 * 16 + 64) + 1  # worse than the dense walk's 40,960


def test_unmappable_layers_are_a_one_line_error_naming_the_layer_and_limit():
    with pytest.raises(ToolchainError, match=r"^cannot map layer conv0 \(kernel 9x9\).*at most 8 on its 8x8 plane"):
        map_model(_model({**SMALL, "snn_kernel": 9}))
    with pytest.raises(ToolchainError, match=r"^cannot map layer conv1 \(SP 3\).*divide the plane width 8"):
        map_model(_model(SMALL), sweep_positions=[2, 3])


def test_fifo_model_follows_the_kernels_schedules(shipped):
    from toolchain.hw.snn.event import accel_fifo

    model, spec, exe = shipped
    codes, _ = check_frames(spec, n_random=6, seed=3, synthetic_classes=0)
    ref = model_reference(model, spec, codes)
    hw = accel_csim.run_frames(spec, codes, exe=exe)
    sched = accel_fifo.schedules(spec, ref["words"])
    # every kernel's modelled iterations are the ones the C simulation counted, and its pops the
    # words the kernel before it pushed
    assert [len(pop) for pop, _ in sched] == [int(v.sum()) for v in hw.iterations.values()]
    assert [int(push.sum()) for _, push in sched[:-1]] == [int(pop.sum()) for pop, _ in sched[1:]]
    r = accel_fifo.fifo_depths(sched)
    assert r["cycles_with_depths"] <= r["cycles_unbounded"] * 1.01
    # depth-1 FIFOs throughout cost cycles: the model sees back-pressure
    assert accel_fifo.simulate(sched, [1] * len(r["depths"]))[0] > r["cycles_unbounded"]
    # a hand-made pair: the producer pushes every cycle, the consumer pops every other cycle
    prod = (np.zeros(8, np.int8), np.ones(8, np.int8))
    cons = (np.tile(np.array([1, 0], np.int8), 8), np.zeros(16, np.int8))
    cycles, peak = accel_fifo.simulate([prod, cons], [64])
    assert cycles == 17 and peak == [4]


def test_fifo_model_follows_the_binary_encoders_dropped_samples(small):
    """BINARY sends no word for a repeat of its step's cell: the encoder's pushes are conv0's
    pops, and each kernel's modelled iterations are the C simulation's counts."""
    from toolchain.hw.snn.event import accel_fifo

    model, spec, codes, ref = small
    hw = accel_csim.run_frames(spec, codes[:20])
    sched = accel_fifo.schedules(spec, [w[:20] for w in ref["words"]])
    assert [len(pop) for pop, _ in sched] == [int(v.sum()) for v in hw.iterations.values()]
    assert [int(push.sum()) for _, push in sched[:-1]] == [int(pop.sum()) for pop, _ in sched[1:]]
    words = int(sched[0][1].sum())
    assert words < 20 * (spec.encoder.frame + 1)  # repeats were dropped
    assert words == int(hw.iterations["conv0"].sum()) - 20 * spec.steps * spec.convs[0].groups
    r = accel_fifo.fifo_depths(sched)
    assert r["cycles_with_depths"] <= r["cycles_unbounded"] * 1.01


def test_chunked_verification_sums_the_chunks(small):
    model, spec, codes, ref = small
    exe = accel_csim.compile_accelerator(spec)
    whole, hw = verify(model, spec, codes[:50], exe=exe)
    check, hw_chunked, words = verify_frames(model, spec, codes[:50], chunk=16, exe=exe)
    assert check == whole and check["frames"] == 50
    assert (hw_chunked.classes == hw.classes).all() and (hw_chunked.membranes == hw.membranes).all()
    assert all((hw_chunked.iterations[k] == v).all() for k, v in hw.iterations.items())
    assert all((a == b[:50]).all() for a, b in zip(words, ref["words"]))


def test_sweep_mux_selects_among_all_banks(shipped):
    """Each sweep lane of spiking_conv.sv selects its word by bank row and column (run-time
    residues), a BH x BW : 1 multiplexer per current bit: 25 : 1 in both shipped convs."""
    from toolchain.hw.snn.resources import conv, mux_luts

    _, spec, _ = shipped
    c0, c1 = spec.convs
    assert (c0.sp, c1.sp) == (2, 4) and c0.banks == c1.banks == (5, 5)
    assert conv(c1)["parts"]["sweep_mux"] == 4 * 16 * c1.acc_bits * mux_luts(25)
    assert conv(c0)["parts"]["sweep_mux"] == 2 * 16 * c0.acc_bits * mux_luts(25)
    assert [mux_luts(n) for n in (1, 2, 4, 5, 25, 32, 33)] == [0, 1, 1, 2, 7, 8, 10]


@pytest.mark.vivado
def test_vitis_hls_keeps_the_ii_the_cycle_formulas_assume(shipped, tmp_path):
    """csynth of the shipped network's whole accelerator: every pipelined loop at II = 1 (what
    the cycle formulas count), and Vitis' LUT/FF/BRAM printed beside resources.py's estimates.
    Written without Vitis at hand: it has never run here."""
    import json
    import subprocess
    import xml.etree.ElementTree as ET

    from toolchain.hw.snn import resources

    _, spec, _ = shipped
    tcl = accel_csim.write_hls_project(spec, tmp_path, "xczu7ev-ffvc1156-2-e", 4.0)
    res = subprocess.run(["vitis_hls", "-f", tcl.name], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:]
    reports = sorted(tmp_path.glob(f"project_{accel_csim.TOP}/sol1/syn/report/*csynth.xml"))
    assert reports, "no csynth.xml"
    iis = {}
    for rep in reports:
        for el in ET.parse(rep).iter():
            if el.tag == "PipelineII" and (el.text or "").strip().isdigit():
                iis[f"{rep.stem}:{len(iis)}"] = int(el.text)
    assert iis and set(iis.values()) == {1}, iis
    top = ET.parse(tmp_path / f"project_{accel_csim.TOP}/sol1/syn/report/csynth.xml")
    area = {k: top.findtext(f".//AreaEstimates/Resources/{k}") for k in ("LUT", "FF", "BRAM_18K", "DSP")}
    print(json.dumps({"vitis": area, "estimate": resources.accelerator(spec)["total"]}))
