"""The run report (`report.html`): the manifest and the artifacts it lists -> one HTML page.

No file I/O here: the `report` stage reads and checks the files and passes their contents
(JSON as data, PNG as bytes); images go into the page as `data:` URIs and the CSS is in the
template, so the page opens from disk with nothing fetched from anywhere. The layout is the
Jinja2 template `templates/report.html.j2`; the per-stage contents are in `page_sections`
(and `page_finn` for the FINN build).
"""

from __future__ import annotations

import base64
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ToolchainError

TEMPLATES = Path(__file__).with_name("templates")

TITLES = {
    "data": "Data", "train_initial": "Training", "convert": "ANN to SNN conversion", "prune": "Pruning",
    "reduce_bits": "Bit-width reduction", "evaluate": "Evaluation", "export_onnx": "QONNX export",
    "export_nir": "NIR export", "export_inference_cost": "Cost and challenge score", "finn_build": "FINN build",
    "classify": "Classification",
}
# How a figure was obtained; each gets its own badge colour in the template.
HOW = ("measured", "counted", "estimate", "C-simulated", "RTL-simulated", "synthesized")
WIDE_PX = 1000  # PNG width above which a figure spans the page (the stages draw at 120 dpi)
NUMERIC = re.compile(r"^(>= )?-?[0-9][0-9,.]*(e[-+]?[0-9]+)?( %)?$|^n/a$")


@dataclass
class Figure:
    caption: str
    uri: str
    how: str = ""
    wide: bool = False  # a figure wider than half the page gets a row of its own


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]
    how: str = ""
    note: str = ""
    highlight: Optional[int] = None  # index of a row to mark (e.g. the rate-bounding layer)


@dataclass
class Section:
    stage: str
    title: str
    status: str = "ok"
    error: str = ""
    summary: str = ""
    facts: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, how obtained
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # artifact name, file
    timing: str = ""
    config: str = ""
    versions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"stage-{self.stage}"

    def fact(self, label: str, value: Any, how: str = "") -> None:
        self.facts.append((label, value if isinstance(value, str) else fmt(value), how))


class Outputs:
    """One stage's artifacts as the stage read them; a builder that finds an artifact's content
    not shaped as expected gets a one-line error naming that file."""

    def __init__(self, root: Path, entry: dict[str, Any], loaded: dict[str, Any]):
        self.root, self.entry, self.loaded = root, entry, loaded

    def has(self, name: str) -> bool:
        return name in self.loaded

    def use(self, name: str, build: Callable[[Any], Any]) -> Any:
        try:
            return build(self.loaded[name])
        except (KeyError, TypeError, IndexError, ValueError, AttributeError, ZeroDivisionError) as exc:
            path = self.root / self.entry["outputs"][name]
            raise ToolchainError(f"{path}: not the content the {name} artifact has "
                                 f"({type(exc).__name__}: {exc})") from None

    def png(self, name: str, caption: str, how: str = "") -> Optional[Figure]:
        return figure(self.loaded[name], caption, how) if self.has(name) else None


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(data: bytes, caption: str, how: str = "") -> Figure:
    width = struct.unpack(">I", data[16:20])[0] if len(data) >= 24 else 0  # IHDR: width, height
    return Figure(caption, png_uri(data), how, wide=width > WIDE_PX)


def fmt(value: Any, digits: int = 4) -> str:
    """A number as a person reads it: thousands separated, floats to `digits` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def pct(share: Optional[float], digits: int = 2) -> str:
    return "n/a" if share is None else f"{100 * share:.{digits}f} %"


def build_sections(root: Path, manifest: dict[str, Any], artifacts: dict[str, dict[str, Any]]) -> list[Section]:
    from .page_sections import BUILDERS

    sections = []
    for stage, entry in manifest["stages"].items():
        section = Section(stage, TITLES.get(stage, stage), status=str(entry.get("status", "ok")))
        section.timing = timing(entry)
        section.config = json.dumps(entry.get("config", {}), indent=2)
        section.versions = [(k, str(v)) for k, v in sorted((entry.get("versions") or {}).items())]
        for key in ("git_commit", "python"):
            if entry.get(key):
                section.versions.append((key.replace("_", " "), str(entry[key])))
        if section.status != "ok":
            section.error = str(entry.get("error") or "failed (the manifest records no message)").splitlines()[0]
            sections.append(section)
            continue
        outputs = Outputs(root, entry, artifacts.get(stage, {}))
        section.files = [(name, rel) for name, rel in (entry.get("outputs") or {}).items()]
        builder = BUILDERS.get(stage)
        if builder is not None:
            builder(section, outputs)
        sections.append(section)
    return sections


def timing(entry: dict[str, Any]) -> str:
    parts = []
    if "seconds" in entry:
        parts.append(f"{float(entry['seconds']):,.1f} s")
    if entry.get("started"):
        parts.append(f"started {entry['started']}")
    if entry.get("finished"):
        parts.append(f"finished {entry['finished']}")
    return ", ".join(parts)


def render(root: Path, manifest: dict[str, Any], artifacts: dict[str, dict[str, Any]]) -> str:
    """The whole page as a string."""
    import jinja2

    sections = build_sections(root, manifest, artifacts)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.tests["numeric"] = lambda cell: isinstance(cell, (int, float)) or bool(NUMERIC.match(str(cell)))
    entries = manifest["stages"].values()
    total = sum(float(e.get("seconds", 0) or 0) for e in entries)
    started = min((e["started"] for e in entries if e.get("started")), default="")
    finished = max((e["finished"] for e in entries if e.get("finished")), default="")
    return env.get_template("report.html.j2").render(
        run=str(root.resolve()), name=root.resolve().name, sections=sections, total_seconds=total,
        started=started, finished=finished, failed=[s for s in sections if s.status != "ok"], how_labels=HOW)
