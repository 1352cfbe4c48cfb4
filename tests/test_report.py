"""The run report (`toolchain report`, and the last stage of `toolchain run`): report.html has one
section per manifest entry showing what each stage wrote, a failed stage's one-line error, every
image inlined; bad run directories are one-line errors naming the file, and no page is written.
The browser test opens the page in Debian's Chromium (headless, no network) through Playwright."""

from __future__ import annotations

import contextlib
import html as html_lib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from checks import assert_one_line_error, report_sections as sections, require_tool
from toolchain.cli import main

# The CNN path on a tiny generated file and model (the end-to-end run of tests/test_cli.py).
TINY = ["run.stages=[data, train_initial, evaluate, export_onnx, export_inference_cost]", "synth.frames_per_pair=4",
        "synth.snrs=[0, 30]", "data.batch_size=32", "model.filters=4", "model.dense=8", "model.weight_bits=4",
        "model.act_bits=4", "train.epochs=2", "train.threads=1", "export.verify_inputs=2"]
CHROMIUM = "/usr/bin/chromium"
# Background traffic off: the page must open with nothing but the file itself.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-gpu", "--disable-quic"]


def quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`toolchain run` (which ends with the report), a classification of the run's own file, then a
    `toolchain run` whose stage fails (NIR export of a CNN): its error is recorded and the page
    rewritten with it."""
    out = tmp_path_factory.mktemp("report") / "run"
    assert quiet(["run", "--out", str(out), *[a for s in TINY for a in ("--set", s)]]) == 0
    assert (out / "report.html").is_file()
    assert quiet(["classify", str(out / "synthetic.h5"), "--model", str(out / "model_export.onnx"),
                  "--out", str(out)]) == 0
    assert quiet(["run", "--out", str(out), "--set", "run.stages=[export_nir]"]) == 1
    return out


def test_one_section_per_stage_with_what_it_wrote(run_dir):
    html = (run_dir / "report.html").read_text()
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    found = sections(html)
    assert list(found) == list(stages) == ["data", "train_initial", "evaluate", "export_onnx", "export_inference_cost",
                                           "classify", "export_nir"]
    images = {stage: len(re.findall(r"<img ", body)) for stage, body in found.items()}
    assert images == {"data": 1, "train_initial": 1, "evaluate": 2, "export_onnx": 0, "export_inference_cost": 1,
                      "classify": 1, "export_nir": 0}
    accuracy = json.loads((run_dir / "accuracy.json").read_text())
    assert f"{100 * accuracy['overall']['accuracy']:.2f} %" in found["evaluate"]
    cost = json.loads((run_dir / "model_cost.json").read_text())
    assert f"challenge score {cost['score']:.4f}" in found["export_inference_cost"]
    log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert f"{log[-1]['train_loss']:.4f}" in found["train_initial"] and "Loss and accuracy per epoch" in html
    assert "how-measured" in found["evaluate"] and "how-counted" in found["export_inference_cost"]
    assert '"frames_per_pair": 4' in html_lib.unescape(found["data"])  # the config
    assert "torch" in found["data"] and stages["data"]["started"] in found["data"]  # versions and timings


def test_a_failed_stage_gets_a_section_with_its_one_line_error(run_dir):
    entry = json.loads((run_dir / "manifest.json").read_text())["stages"]["export_nir"]
    assert entry["status"] == "failed" and "not a spiking network" in entry["error"] and "\n" not in entry["error"]
    body = sections((run_dir / "report.html").read_text())["export_nir"]
    assert 'class="error"' in body and "not a spiking network" in body


def test_the_page_is_self_contained(run_dir):
    html = (run_dir / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<script|<link|@import|url\(|https?://", html, re.I)


def test_report_alone_rewrites_the_same_sections(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert list(sections((copy / "report.html").read_text())) == list(sections((run_dir / "report.html").read_text()))
    assert json.loads((copy / "manifest.json").read_text()) == json.loads((run_dir / "manifest.json").read_text())


def breakage(run: Path, name: str, how: str) -> None:
    path = run / name
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text(how)


@pytest.mark.parametrize("name, how, needle", [
    ("accuracy.json", "missing", "missing"),
    ("data_summary.json", "truncated", "not valid JSON"),
    ("confusion_matrix.png", "truncated", "truncated PNG"),
    ("data_overview.png", "GIF89a", "not a PNG"),
    ("train_log.jsonl", '{"epoch": 1}\n{"epo', "line 2 is not valid JSON"),
    ("model_cost.json", "{}", "not the content"),
    ("manifest.json", "{", "not valid JSON"),
    ("manifest.json", '{"stage": {}}', "not a toolchain manifest"),
])
def test_a_broken_artifact_is_one_line_naming_it_and_no_page_is_written(run_dir, tmp_path, capsys, name, how, needle):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = (copy / "report.html").read_bytes()
    breakage(copy, name, how)
    capsys.readouterr()
    assert_one_line_error(main(["report", str(copy)]), capsys.readouterr().err, str(copy / name), needle)
    assert (copy / "report.html").read_bytes() == before  # the old page stays whole
    assert not [p for p in copy.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("make", ["nothing", "empty folder", "file"])
def test_a_folder_that_is_not_a_run_directory(tmp_path, capsys, make):
    target = tmp_path / "x"
    if make == "empty folder":
        target.mkdir()
    elif make == "file":
        target.write_text("not a folder")
    assert_one_line_error(main(["report", str(target)]), capsys.readouterr().err, str(target), "not a run directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if make == "nothing" else ["x"])
    if make == "empty folder":
        assert not any(target.iterdir())


def browser_missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements.lock)"
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does)"
    return None


def open_in_browser(page_file: Path, screenshot: Path) -> dict:
    """Open the page in headless Chromium: each section's stage, visibility, size and whether its
    text starts with its heading; each image's state; every URL the page requested."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            sections = {}
            for stage in page.eval_on_selector_all("section.stage", "els => els.map(e => e.dataset.stage)"):
                section = page.locator(f'section[data-stage="{stage}"]')
                box = section.bounding_box() or {"width": 0, "height": 0}
                sections[stage] = (section.is_visible(), box["width"], box["height"],
                                   section.inner_text().strip().startswith(section.locator("h2").inner_text()))
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"sections": sections, "images": images, "requests": requests}


def test_the_page_renders_in_a_browser_with_no_request_off_disk(run_dir, tmp_path):
    require_tool(browser_missing())
    screenshot = tmp_path / "report.png"
    seen = open_in_browser(run_dir / "report.html", screenshot)
    assert list(seen["sections"]) == list(json.loads((run_dir / "manifest.json").read_text())["stages"])
    for stage, (visible, width, height, headed) in seen["sections"].items():
        assert visible and width > 300 and height > 50 and headed, stage
    assert len(seen["images"]) == 6 and all(done and w > 0 for _, done, w in seen["images"]), seen["images"]
    assert seen["requests"] and all(u.startswith(("file:", "data:")) for u in seen["requests"]), seen["requests"]
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    print(f"screenshot of the run report: {screenshot}")


def test_the_browser_check_sees_a_broken_image_and_a_request_off_disk(run_dir, tmp_path):
    """The same checks on a doctored copy of the page: one image cut to its PNG signature, one
    stylesheet on the network. Both must show."""
    require_tool(browser_missing())
    html = (run_dir / "report.html").read_text()
    start = html.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
    doctored = html[:start] + html[start:start + 12] + html[html.index('"', start):]  # the PNG signature only
    doctored = doctored.replace("</head>", '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>')
    page = tmp_path / "doctored.html"
    page.write_text(doctored)
    seen = open_in_browser(page, tmp_path / "doctored.png")
    assert [w for _, _, w in seen["images"]].count(0) == 1
    assert "http://127.0.0.1:9/x.css" in seen["requests"]


def test_two_run_directories_are_refused(run_dir, tmp_path, capsys):
    assert_one_line_error(main(["report", str(run_dir), "--out", str(tmp_path)]), capsys.readouterr().err,
                          "two run directories")
    assert not any(tmp_path.iterdir())


def finn_run(root: Path, **extra) -> Path:
    """A run directory holding only a finn_build entry and a small finn_report.json."""
    resources = {r: {"estimate": 10.0, "complete": True, "not_estimated": [], "board": 100, "share": 0.1}
                 for r in ("LUT", "BRAM36", "URAM", "DSP")}
    report = {
        "build_folder": "build/x", "board": {"name": "ZCU104", "part": "xczu7ev"},
        "folding": {"mode": "none", "note": "the build has no step_fold_by_structure"},
        "steps": {"ran": ["step_hw_codegen"], "skipped": []},
        "layers": [{"name": f"MVAU_hls_{i}", "layer": f"conv{i}.mvau", "op_type": "MVAU_hls", "PE": 2, "SIMD": 3,
                    "cycles": c, "LUT": 10.0, "FF": None, "BRAM_18K": 0.0, "URAM": 0.0, "DSP": 1.0, "notes": []}
                   for i, c in enumerate((40, 100, 60))],
        "totals": {"cycles_per_frame": 100, "bottleneck": "conv1.mvau (MVAU_hls_1)", "clock_ns": 4.0, "clock_mhz": 250.0,
                   "estimated_fps": 2.5e6, "latency_cycles": 200, "estimated_latency_us": 0.8, "resources": resources},
        "notes": [], "verification": {"passed": True, "frames": 2, "mismatches": {"hw": 0}}, **extra}
    (root / "finn_output").mkdir(parents=True)
    (root / "finn_output" / "finn_report.json").write_text(json.dumps(report))
    (root / "manifest.json").write_text(json.dumps({"stages": {"finn_build": {
        "status": "ok", "seconds": 1.0,
        "outputs": {"finn_output": "finn_output", "finn_report": "finn_output/finn_report.json"}}}}))
    return root


def test_finn_figures_carry_how_they_were_obtained(tmp_path):
    """Estimates where nothing else ran; RTL-simulated and synthesized only where the report
    holds such results (Vivado's `measured` files, or an entry whose source says so)."""
    bare = finn_run(tmp_path / "bare")
    assert quiet(["report", str(bare)]) == 0
    finn = sections((bare / "report.html").read_text())["finn_build"]
    assert "how-estimate" in finn and "how-RTL-simulated" not in finn and "how-synthesized" not in finn
    assert "nothing here is RTL-simulated or synthesized" in finn
    assert re.search(r'<tr class="highlight">\s*<td>conv1\.mvau</td>', finn)  # the slowest layer
    full = finn_run(tmp_path / "full", measured={"rtlsim_performance": {"cycles": 123},
                                                 "post_synth_resources": {"LUT": 11}},
                    kernel_synthesis={"source": "synthesized (Yosys 0.70 synth_xilinx, out of context)", "LUT": 9})
    assert quiet(["report", str(full)]) == 0
    finn = sections((full / "report.html").read_text())["finn_build"]
    assert finn.count("how-RTL-simulated") == 1 and finn.count("how-synthesized") == 2
    assert "kernel synthesis" in finn and "nothing here is RTL-simulated" not in finn
